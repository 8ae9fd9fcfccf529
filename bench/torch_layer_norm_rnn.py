"""torch_layer_norm_rnn.py: the LayerNorm-LSTM / LayerNorm-GRU layer composed
step by step in PyTorch, as a user writes it when cuDNN has no such layer.
bench/torch_bench.py --layer-norm 1 times it against loom-bench --layer-norm 1
(loom's fused layer): issue 13, item 5.

The equations are loom's (nn/research_cells.h, docs/variant-cases.md):
  LSTM: a = LN(x W_ih^T; ln_ih) + b_ih + LN(h W_hh^T; ln_hh) + b_hh  (i, f, g, o)
        c' = sig(a_f) c + sig(a_i) tanh(a_g),  h' = sig(a_o) tanh(LN(c'; ln_c))
  GRU:  gi = LN(x W_ih^T; ln_ih) + b_ih,  gh = LN(h W_hh^T; ln_hh) + b_hh  (r, z, n)
        r = sig(gi_r + gh_r), z = sig(gi_z + gh_z), n = tanh(gi_n + r gh_n),
        h' = (1 - z) n + z h
It is written the way that favours PyTorch: the input projection and its layer
norm run once for all T steps (one GEMM and one F.layer_norm), and only the
recurrent part loops in Python, with PyTorch's native F.layer_norm kernel.
Unidirectional layers stacked `layers` deep, unpacked input (T, N, C), zero
initial states, bias on. Parameters are drawn as nn.LSTM's (U(-1/sqrt(H),
1/sqrt(H))), layer-norm gains 1 and biases 0, as loom's.
"""
import math

import torch
import torch.nn.functional as F


class LayerNormRNN(torch.nn.Module):
    """A stack of `layers` unidirectional LayerNorm-LSTM or -GRU layers (mode
    "lstm" or "gru"); forward(x (T, N, C)) -> (y (T, N, H), None)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, layers: int, eps: float = 1e-5):
        super().__init__()
        if mode not in ("lstm", "gru"):
            raise ValueError(f"layer norm is for lstm and gru, got {mode}")
        self.mode, self.H, self.layers, self.eps = mode, hidden_size, layers, eps
        G = (4 if mode == "lstm" else 3) * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        for k in range(layers):
            C = input_size if k == 0 else hidden_size
            for name, shape in (("weight_ih", (G, C)), ("weight_hh", (G, hidden_size)), ("bias_ih", (G,)),
                                ("bias_hh", (G,))):
                self.register_parameter(f"{name}_l{k}", torch.nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
            norms = [("ih", G), ("hh", G)] + ([("c", hidden_size)] if mode == "lstm" else [])
            for which, size in norms:
                self.register_parameter(f"layer_norm_{which}_weight_l{k}", torch.nn.Parameter(torch.ones(size)))
                self.register_parameter(f"layer_norm_{which}_bias_l{k}", torch.nn.Parameter(torch.zeros(size)))

    def _p(self, name: str, k: int) -> torch.Tensor:
        return getattr(self, f"{name}_l{k}")

    def _layer(self, x: torch.Tensor, k: int) -> torch.Tensor:
        T, N, _ = x.shape
        H, eps, p = self.H, self.eps, lambda n: self._p(n, k)
        G = p("weight_ih").shape[0]
        # The input part for all steps at once.
        xi = F.layer_norm(x @ p("weight_ih").t(), (G,), p("layer_norm_ih_weight"), p("layer_norm_ih_bias"), eps)
        xi = xi + p("bias_ih")
        h = x.new_zeros(N, H)
        c = x.new_zeros(N, H) if self.mode == "lstm" else None
        ys = []
        for t in range(T):
            gh = F.layer_norm(h @ p("weight_hh").t(), (G,), p("layer_norm_hh_weight"), p("layer_norm_hh_bias"), eps)
            gh = gh + p("bias_hh")
            if self.mode == "lstm":
                i, f, g, o = (xi[t] + gh).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                cn = F.layer_norm(c, (H,), p("layer_norm_c_weight"), p("layer_norm_c_bias"), eps)
                h = torch.sigmoid(o) * torch.tanh(cn)
            else:
                ir, iz, inn = xi[t].chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = torch.tanh(inn + r * hn)
                h = (1 - z) * n + z * h
            ys.append(h)
        return torch.stack(ys)

    def forward(self, x: torch.Tensor):
        for k in range(self.layers):
            x = self._layer(x, k)
        return x, None

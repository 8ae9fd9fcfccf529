#!/usr/bin/env python3
"""check_torch_layer_norm_rnn.py: the PyTorch side of the layer-norm benchmark
(bench/torch_layer_norm_rnn.py) computes the same layer as the reference
cells the variant cases come from (tests/fixtures/research_cells.py), so the
benchmark compares loom's fused layer with the same layer, not a cheaper one.

For LSTM and GRU, two layers, float64, random parameters (gains and biases of
the layer norms too): the outputs must agree to 1e-12. Exit 0 on agreement,
1 on a difference, 77 (ctest: skipped) without torch.
"""
import os
import sys

try:
    import torch
except ImportError:
    print("check_torch_layer_norm_rnn.py: torch is not importable: skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "fixtures"))
from research_cells import Config, run_layers  # noqa: E402
from torch_layer_norm_rnn import LayerNormRNN  # noqa: E402


def main() -> int:
    torch.manual_seed(7)
    worst = 0.0
    for mode in ("lstm", "gru"):
        T, N, C, H, L = 6, 3, 5, 4, 2
        layer = LayerNormRNN(mode, C, H, L).double()
        with torch.no_grad():
            for p in layer.parameters():
                p.uniform_(-0.9, 0.9)  # gains and biases away from 1 and 0, so their use is checked
        params = {name: p.detach() for name, p in layer.named_parameters()}
        cfg = Config(mode.upper(), H, L, bias=True, batch_first=False, bidirectional=False, layer_norm=True,
                     zoneout_h=0.0, zoneout_c=0.0, weight_drop=0.0, dropout=0.0, dropout_mode="independent",
                     training=False)
        x = torch.randn(T, N, C, dtype=torch.float64)
        with torch.no_grad():
            want, _, _ = run_layers(cfg, params, {}, x, None, None, None)
            got, _ = layer(x)
        err = (got - want).abs().max().item()
        print(f"{mode}: max |bench layer - reference cells| = {err:.3e}")
        worst = max(worst, err)
    return 0 if worst <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())

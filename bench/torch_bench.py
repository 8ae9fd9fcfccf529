#!/usr/bin/env python3
"""torch_bench.py: PyTorch's side of loom-bench (bench/bench.cc).

Same arguments, same timed step, same JSON fields (one line on stdout):

  torch_bench.py --mode lstm --T 100 --N 64 --C 1024 --H 1024 --layers 2
                 [--bidirectional 0|1] [--proj-size P]
                 [--dtype float32|float64|bfloat16|float16]
                 [--step train|forward] [--lengths LO:HI] [--seed S]
                 [--device auto|cpu|cuda] [--warmup W] [--repeats R] [--threads K]
                 [--matmul-precision highest|high] [--autocast none|bfloat16|float16]
                 [--layer-norm 0|1]

forward: output = layer(x) under torch.no_grad(); train: output = layer(x),
loss = (output * g).sum(), loss.backward(), with g a fixed random tensor
shaped like the output. x is (T, N, C) without gradient; h0/c0 not given.
With --lengths the N lengths come from splitmix64(seed) exactly as in
loom-bench, T becomes the longest, and x is packed once before timing
(pack_padded_sequence, enforce_sorted=False). Gradients are set to None
before each repeat, outside the timed region.

--dtype bfloat16|float16: the module is cast with .to(device, dtype) and, on
CUDA, flatten_parameters() is called (cuDNN's packed weights in that type);
x and g are made in that type: what loom-bench --dtype bfloat16|float16 runs.

--autocast bfloat16|float16 (needs --dtype float32): the module and x stay
float32; forward and loss run under torch.autocast(device, dtype) and
backward outside it, as mixed-precision training does; g is made in the
forward output's dtype (one untimed forward under no_grad finds it): what
loom-bench --autocast runs. "autocast" and "output_dtype" are echoed. Note
that PyTorch's CUDA autocast runs cuDNN RNNs in float16 even when bfloat16
is asked (output_dtype says so).

--layer-norm 1 (lstm or gru; unidirectional, unpacked, no projection): the
layer is LayerNormRNN of bench/torch_layer_norm_rnn.py, the LayerNorm-LSTM/GRU
composed step by step in PyTorch (the user's alternative to loom's fused
layer-norm layer, loom-bench --layer-norm 1); "layer_norm" is echoed.

Unsupported: when that first forward shows PyTorch cannot run the asked
precision on this device (PyTorch 1.13: torch.autocast on the CPU refuses
float16, leaves nn.LSTM/GRU/RNN in float32 under bfloat16, and its CPU RNNs
refuse a float16 module: "not implemented for 'Half'"), nothing is timed:
the JSON line has "unsupported" (the reason) instead of timings, and the
exit status is 3.

On CUDA: torch.nn.LSTM/GRU/RNN use cuDNN. --matmul-precision highest (the
default) turns TF32 off for matmul and cuDNN (fp32 rows are true fp32, as
loom's default "highest"); high turns it on for both
(torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 =
True: cuDNN's own default, what a PyTorch user gets for RNNs unless they turn
it off), as loom-bench --matmul-precision high. Both flags are reported in the
JSON line (allow_tf32_matmul, allow_tf32_cudnn) with matmul_precision. The CPU
ignores them. Each step is bracketed by
CUDA events on the current stream; peak_mem_bytes is
torch.cuda.max_memory_allocated over the timed repeats (reset after warm-up).
On the CPU: time.perf_counter around the step (synchronous), peak_mem_bytes
null, threads = torch.set_num_threads(--threads) when given, and
cpu_median_ms the median process CPU time per step (time.process_time: user +
system, all threads), null on CUDA.
"""
import argparse
import contextlib
import json
import statistics
import sys
import time
import warnings

import torch

from machine import cpu_name
from torch_layer_norm_rnn import LayerNormRNN

MASK64 = (1 << 64) - 1


def splitmix64(state):
    """Returns (new_state, value): the draw loom-bench uses."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def draw_lengths(n, lo, hi, seed):
    """N lengths uniform in [lo, hi] (modulo draw), in batch order."""
    state, out = seed & MASK64, []
    for _ in range(n):
        state, v = splitmix64(state)
        out.append(lo + v % (hi - lo + 1))
    return out


def parse_lengths(text):
    lo, sep, hi = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"--lengths expects LO:HI, got '{text}'")
    lo, hi = int(lo), int(hi)
    if lo < 1 or lo > hi:
        raise argparse.ArgumentTypeError(f"--lengths expects 1 <= LO <= HI, got '{text}'")
    return lo, hi


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layer-norm", type=int, default=0, choices=[0, 1],
                   help="the LayerNorm-LSTM/GRU composed in PyTorch (bench/torch_layer_norm_rnn.py)")
    p.add_argument("--mode", required=True, choices=["rnn_tanh", "rnn_relu", "lstm", "gru"])
    p.add_argument("--T", type=int, default=0)
    p.add_argument("--N", type=int, required=True)
    p.add_argument("--C", type=int, required=True)
    p.add_argument("--H", type=int, required=True)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", type=int, default=0)
    p.add_argument("--proj-size", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16", "float16"])
    p.add_argument("--step", default="train", choices=["train", "forward"])
    p.add_argument("--lengths", type=parse_lengths, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (CPU); 0 keeps the default")
    p.add_argument("--matmul-precision", default="highest", choices=["highest", "high"],
                   help="high: TF32 for cuBLAS matmuls and cuDNN (allow_tf32); highest: TF32 off (default)")
    p.add_argument("--autocast", default="none", choices=["none", "bfloat16", "float16"],
                   help="run forward and loss under torch.autocast(device, dtype) (needs --dtype float32)")
    a = p.parse_args(argv)
    if a.autocast != "none" and a.dtype != "float32":
        p.error(f"--autocast {a.autocast} runs a float32 module under torch.autocast: --dtype must be float32, "
                f"got {a.dtype}")
    if a.lengths is None and a.T < 1:
        p.error("--T is required unless --lengths is given")
    if min(a.N, a.C, a.H, a.layers, a.repeats) < 1 or a.warmup < 0:
        p.error("--N, --C, --H, --layers, --repeats must be >= 1 and --warmup >= 0")
    if a.proj_size and a.mode != "lstm":
        p.error("--proj-size is for lstm only")
    if a.layer_norm and (a.mode not in ("lstm", "gru") or a.bidirectional or a.proj_size or a.lengths):
        p.error("--layer-norm 1 is for unidirectional, unpacked lstm or gru without --proj-size")
    return a


def main(argv):
    a = parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_bench.py: --device cuda: torch.cuda.is_available() is False")
    device = torch.device("cuda" if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    # highest: fp32 means fp32, no TF32 in cuBLAS or cuDNN (as loom's default);
    # high: TF32 in both (as loom's set_float32_matmul_precision("high")).
    tf32 = a.matmul_precision == "high"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
             "float16": torch.float16}[a.dtype]
    torch.manual_seed(a.seed)

    kwargs = dict(num_layers=a.layers, bidirectional=bool(a.bidirectional))
    if a.layer_norm:
        layer = LayerNormRNN(a.mode, a.C, a.H, a.layers)
    elif a.mode == "lstm":
        layer = torch.nn.LSTM(a.C, a.H, proj_size=a.proj_size, **kwargs)
    elif a.mode == "gru":
        layer = torch.nn.GRU(a.C, a.H, **kwargs)
    else:
        layer = torch.nn.RNN(a.C, a.H, nonlinearity=a.mode[4:], **kwargs)
    layer = layer.to(device=device, dtype=dtype)
    if device.type == "cuda":
        layer.flatten_parameters()  # cuDNN's packed weights, in the cast dtype

    T, rows, lengths = a.T, a.T * a.N, None
    if a.lengths:
        lengths = draw_lengths(a.N, a.lengths[0], a.lengths[1], a.seed)
        T, rows = max(lengths), sum(lengths)
    x = torch.randn(T, a.N, a.C, device=device, dtype=dtype)
    packed = None
    if lengths:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out_features = (2 if a.bidirectional else 1) * (a.proj_size or a.H)
    autocast_dtype = {"none": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[a.autocast]

    def autocast():
        if autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=autocast_dtype)

    def forward():
        out = layer(packed if packed is not None else x)[0]
        return out.data if packed is not None else out

    # One untimed forward: the output's dtype (g is made in it), or the reason
    # PyTorch cannot run this precision here.
    reason = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 1.13 warns before it raises for CPU float16 autocast
            with torch.no_grad(), autocast():
                output_dtype = forward().dtype
    except RuntimeError as e:
        if "not implemented for" not in str(e) and "only support" not in str(e):
            raise
        how = f"torch.autocast('{device.type}', dtype=torch.{a.autocast})" if autocast_dtype else f"a {a.dtype} module"
        reason = f"PyTorch {torch.__version__} cannot run {how} on {device.type}: {str(e).strip()}"
    if reason is None and autocast_dtype is not None and output_dtype == torch.float32:
        reason = (f"PyTorch {torch.__version__}: torch.autocast('{device.type}', dtype=torch.{a.autocast}) leaves "
                  f"{type(layer).__name__} in float32 on {device.type} (its autocast does not cover recurrent "
                  f"layers there)")
    if reason is not None:
        print(json.dumps({"impl": "pytorch", "mode": a.mode, "dtype": a.dtype, "autocast": autocast_dtype and a.autocast,
                          "device": device.type, "torch_version": torch.__version__, "unsupported": reason}),
              flush=True)
        sys.exit(3)
    g = torch.randn(*((rows, out_features) if lengths else (T, a.N, out_features)), device=device,
                    dtype=output_dtype)

    def step():
        if a.step == "train":
            with autocast():
                loss = (forward() * g).sum()
            loss.backward()
        else:
            with torch.no_grad(), autocast():
                forward()

    cuda = device.type == "cuda"
    if cuda:
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    cpu_times = []

    def timed():
        if cuda:
            torch.cuda.synchronize()
            start.record()
            step()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop)
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        t1, c1 = time.perf_counter(), time.process_time()
        cpu_times.append((c1 - c0) * 1e3)
        return (t1 - t0) * 1e3

    for _ in range(a.warmup):
        layer.zero_grad(set_to_none=True)
        timed()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    cpu_times.clear()
    for _ in range(a.repeats):
        layer.zero_grad(set_to_none=True)
        times.append(timed())
    peak = torch.cuda.max_memory_allocated() if cuda else None

    row = {
        "impl": "pytorch", "mode": a.mode, "T": T, "N": a.N, "C": a.C, "H": a.H, "layers": a.layers,
        "bidirectional": bool(a.bidirectional), "proj_size": a.proj_size, "dtype": a.dtype, "step": a.step,
        "lengths": list(a.lengths) if a.lengths else None, "lengths_drawn": lengths, "rows": rows, "seed": a.seed,
        "device": device.type, "device_name": torch.cuda.get_device_name() if cuda else cpu_name(),
        "threads": torch.get_num_threads(), "warmup": a.warmup, "repeats": a.repeats,
        "timer": "cuda_event" if cuda else "perf_counter",
        "median_ms": round(statistics.median(times), 4), "min_ms": round(min(times), 4),
        "times_ms": [round(t, 4) for t in times],
        "cpu_median_ms": None if cuda else round(statistics.median(cpu_times), 4), "peak_mem_bytes": peak,
        "torch_version": torch.__version__,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "cuda_version": torch.version.cuda,
        "matmul_precision": a.matmul_precision,
        "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "autocast": a.autocast if autocast_dtype is not None else None,
        "output_dtype": str(output_dtype).replace("torch.", ""),
        "layer_norm": bool(a.layer_norm),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

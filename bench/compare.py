#!/usr/bin/env python3
"""compare.py: loom vs PyTorch on the standard suite, on one machine, in one go.

  python3 bench/compare.py [--loom-bench build/bin/loom-bench] [--device auto|cpu|cuda]
                           [--torch-python PY] [--threads K] [--rounds R] [--scale S]
                           [--warmup W] [--repeats R] [--only SUBSTRING] [--suite bench/suite.json]
                           [--out-dir build/bench] [--loom-arg=--cuda-graphs=1 ...]
                           [--precision fp32|tf32]

For every row of the suite it runs loom-bench and bench/torch_bench.py with the
same arguments, alternating them (loom then PyTorch in even rounds, PyTorch
then loom in odd rounds, `rounds` times), and prints a table: configuration,
loom and PyTorch median ms (the median of the per-round medians), the speedup
PyTorch ms / loom ms (> 1 means loom is faster), the minima, and both peak
device memories; on the CPU also the speedup in process CPU time per step
(cpu_median_ms), which a machine loaded by other work disturbs far less than
wall time. The rows also go to OUT_DIR/results.json and results.md.

Device: auto picks cuda when the PyTorch interpreter sees a GPU, else cpu. On
the CPU the suite is scaled down by the suite's cpu.scale (C, H, N, T and the
length range divided, at least 1), and both sides are pinned to the same
thread count: OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = K in
both environments and torch.set_num_threads(K) (K = --threads, default 1:
on a shared, loaded machine PyTorch's OpenMP threads spin-wait for
descheduled partners, which made its 2-thread steps 11x to 17x slower there). Needs only the standard library; PyTorch runs in --torch-python
(default: the first of this interpreter, `python3` on PATH and
/usr/bin/python3 that can import torch).

Precision (--precision, both sides alike; float64 rows stay float64):
  fp32 (default)  TF32 off: loom-bench --matmul-precision highest, torch_bench.py
                  --matmul-precision highest (allow_tf32 False for matmul and cuDNN);
  tf32            TF32 on: loom-bench --matmul-precision high (every float32 cuBLAS
                  GEMM), torch_bench.py --matmul-precision high (allow_tf32 True for
                  matmul and cuDNN: PyTorch's default for cuDNN RNNs).
Each side's JSON line echoes what it ran with; a row where either side did not
run in the asked precision gets the note "ran in different precisions". The
CPU has no TF32: there tf32 changes nothing on either side (said in the header).
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

from machine import cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)


def find_torch_python(explicit):
    """(interpreter, info dict) of a Python that imports torch; exits when none does."""
    probe = ("import json, torch; print(json.dumps({'torch': torch.__version__, "
             "'cuda': torch.cuda.is_available(), 'cuda_version': torch.version.cuda, "
             "'cudnn': torch.backends.cudnn.version() if torch.cuda.is_available() else None, "
             "'gpu': torch.cuda.get_device_name() if torch.cuda.is_available() else None}))")
    candidates = [explicit] if explicit else [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    for py in candidates:
        if not py or not os.path.exists(py):
            continue
        r = subprocess.run([py, "-c", probe], capture_output=True, text=True)
        if r.returncode == 0:
            return py, json.loads(r.stdout.strip().splitlines()[-1])
    sys.exit(f"compare.py: no Python with torch among {[c for c in candidates if c]}")


def scaled(row, scale):
    """The row with C, H, N, T and the length range divided by scale (each >= 1)."""
    if scale == 1:
        return dict(row)
    out = dict(row)
    for k in ("C", "H", "N", "T"):
        if k in out:
            out[k] = max(1, out[k] // scale)
    if "lengths" in out:
        lo, hi = out["lengths"]
        out["lengths"] = [max(1, lo // scale), max(1, hi // scale)]
    return out


# --precision -> the --matmul-precision both benchmarks are given.
MATMUL_PRECISION = {"fp32": "highest", "tf32": "high"}


def describe(row, precision="fp32"):
    """'LSTM C=H=1024 N=64 T=100 L=2 train fp32' (or tf32; fp64 rows stay fp64) and the like."""
    mode = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN-tanh", "rnn_relu": "RNN-relu"}[row["mode"]]
    if row.get("bidirectional"):
        mode += " bi"
    size = f"C=H={row['C']}" if row["C"] == row["H"] else f"C={row['C']} H={row['H']}"
    if row.get("proj_size"):
        size += f" P={row['proj_size']}"
    t = f"len~U[{row['lengths'][0]},{row['lengths'][1]}]" if row.get("lengths") else f"T={row['T']}"
    dtype = {"float64": "fp64", "bfloat16": "bf16", "float16": "fp16"}.get(row.get("dtype"), precision)
    return f"{mode} {size} N={row['N']} {t} L={row.get('layers', 1)} {row.get('step', 'train')} {dtype}"


def bench_args(row, device, warmup, repeats):
    args = ["--mode", row["mode"], "--N", str(row["N"]), "--C", str(row["C"]), "--H", str(row["H"]),
            "--layers", str(row.get("layers", 1)), "--bidirectional", str(int(row.get("bidirectional", 0))),
            "--proj-size", str(row.get("proj_size", 0)), "--dtype", row.get("dtype", "float32"),
            "--step", row.get("step", "train"), "--seed", str(row.get("seed", 0)), "--device", device,
            "--warmup", str(warmup), "--repeats", str(repeats)]
    if row.get("lengths"):
        args += ["--lengths", f"{row['lengths'][0]}:{row['lengths'][1]}"]
    else:
        args += ["--T", str(row["T"])]
    return args


def run_one(cmd, env, timeout):
    """The JSON line a benchmark printed, or {'error': text}."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        return {"error": (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}")[-500:]}
    return json.loads(lines[-1])


def aggregate(runs):
    """Median of the per-round medians, minimum of minima, largest peak; None when any run failed."""
    if not runs or any("error" in r for r in runs):
        return None
    peaks = [r["peak_mem_bytes"] for r in runs if r.get("peak_mem_bytes") is not None]
    cpu = [r["cpu_median_ms"] for r in runs if r.get("cpu_median_ms") is not None]
    return {"median_ms": statistics.median(r["median_ms"] for r in runs),
            "cpu_median_ms": statistics.median(cpu) if cpu else None,
            "min_ms": min(r["min_ms"] for r in runs),
            "peak_mem_bytes": max(peaks) if peaks else None}


def mib(b):
    return "-" if b is None else f"{b / 2**20:.0f}"


def ms(v):
    return "error" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def git_commit():
    try:
        head = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", SOURCE, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + (" (tree has uncommitted changes)" if dirty else "") if head else "unknown"
    except OSError:
        return "unknown"


def gpu_driver():
    if not shutil.which("nvidia-smi"):
        return None
    r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                       capture_output=True, text=True)
    return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loom-bench", default=os.path.join(SOURCE, "build", "bin", "loom-bench"))
    p.add_argument("--torch-python", default=None)
    p.add_argument("--suite", default=os.path.join(HERE, "suite.json"))
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="CPU threads on both sides (default 1)")
    p.add_argument("--rounds", type=int, default=None, help="loom/PyTorch alternations per row")
    p.add_argument("--scale", type=int, default=None, help="divide sizes by this (default: suite's, CPU only)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--only", default=None, help="run only rows whose name contains this")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed for one benchmark process")
    p.add_argument("--out-dir", default=os.path.join(SOURCE, "build", "bench"))
    p.add_argument("--precision", default="fp32", choices=sorted(MATMUL_PRECISION),
                   help="fp32: TF32 off on both sides (default); tf32: TF32 on both sides")
    p.add_argument("--loom-arg", action="append", default=[],
                   help="extra loom-bench argument, e.g. --loom-arg=--cuda-graphs --loom-arg=1")
    a = p.parse_args(argv)

    if not os.access(a.loom_bench, os.X_OK):
        sys.exit(f"compare.py: no loom-bench at {a.loom_bench} (build it: cmake --build build --target "
                 f"loom-bench, or pass --loom-bench)")
    py, info = find_torch_python(a.torch_python)
    device = a.device if a.device != "auto" else ("cuda" if info["cuda"] else "cpu")
    with open(a.suite) as f:
        suite = json.load(f)
    settings = suite["gpu" if device == "cuda" else "cpu"]
    scale = a.scale if a.scale is not None else (settings.get("scale", 1) if device == "cpu" else 1)
    rounds = a.rounds or settings.get("rounds", 1)
    warmup = a.warmup if a.warmup is not None else settings.get("warmup", 3)
    repeats = a.repeats or settings.get("repeats", 10)
    rows = [r for r in suite["rows"] if not a.only or a.only in r["name"]]

    env = dict(os.environ)
    threads_note = None
    if device == "cpu":
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(a.threads)
        threads_note = (f"{a.threads} (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS={a.threads} "
                        f"for both, torch.set_num_threads({a.threads}))")
    matmul_precision = MATMUL_PRECISION[a.precision]
    precision_args = ["--matmul-precision", matmul_precision]
    torch_cmd = ([py, os.path.join(HERE, "torch_bench.py")] + (["--threads", str(a.threads)] if device == "cpu" else [])
                 + precision_args)
    tf32_words = {"fp32": "TF32 off on both sides (loom --matmul-precision highest; PyTorch allow_tf32 False "
                          "for matmul and cuDNN)",
                  "tf32": "TF32 ON on both sides (loom --matmul-precision high; PyTorch allow_tf32 True for "
                          "matmul and cuDNN)"}[a.precision]
    if device == "cpu" and a.precision == "tf32":
        tf32_words += "; the CPU has no TF32, so this changes nothing here"

    header = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device,
        "device_name": info["gpu"] if device == "cuda" else cpu_name(),
        "driver": gpu_driver() if device == "cuda" else None,
        "cuda_version": info["cuda_version"], "cudnn_version": info["cudnn"],
        "pytorch": info["torch"], "pytorch_python": py,
        "loom_commit": git_commit(), "loom_bench": os.path.abspath(a.loom_bench),
        "threads": threads_note, "loom_args": a.loom_arg, "precision": a.precision, "tf32": tf32_words,
        "scale": scale, "rounds": rounds, "warmup": warmup, "repeats": repeats,
    }
    print(f"# loom vs PyTorch {info['torch']} on {device} ({header['device_name']}), {header['date']}, "
          f"loom {header['loom_commit']}")
    if device == "cpu":
        size = f"suite SCALED DOWN by {scale} (C, H, N, T, lengths / {scale})" if scale > 1 else "suite at full size"
        print(f"# CPU run, {size}; threads: {threads_note}; peak memory: '-' (CUDA allocator statistic only)")
    else:
        print(f"# driver {header['driver']}, CUDA {info['cuda_version']}, cuDNN {info['cudnn']}")
    print(f"# precision {a.precision}: {tf32_words}")
    if a.loom_arg:
        print(f"# loom-bench also given: {' '.join(a.loom_arg)}")
    print(f"# per row: {rounds} round(s) alternating loom/PyTorch, each {warmup} warm-up + {repeats} timed "
          f"steps; ms = median of the round medians; speedup = PyTorch ms / loom ms (> 1: loom faster)")

    cols = ["configuration", "loom ms", "PyTorch ms", "speedup", "loom min", "PyTorch min", "loom MiB",
            "PyTorch MiB"] + (["cpu-time speedup"] if device == "cpu" else [])
    widths = [52, 9, 10, 8, 9, 11, 9, 11, 16]
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths))), flush=True)

    results = []
    for row in rows:
        srow = scaled(row, scale if device == "cpu" else 1)
        args = bench_args(srow, device, warmup, repeats)
        loom_runs, torch_runs = [], []
        for r in range(rounds):
            order = [("loom", [a.loom_bench] + args + precision_args + a.loom_arg), ("pytorch", torch_cmd + args)]
            if r % 2:
                order.reverse()
            for impl, cmd in order:
                (loom_runs if impl == "loom" else torch_runs).append(run_one(cmd, env, a.timeout))
        lo, pt = aggregate(loom_runs), aggregate(torch_runs)
        note = None
        if lo and pt and any(loom_runs[0].get(k) != torch_runs[0].get(k) for k in ("T", "rows", "lengths_drawn")):
            note = "loom and PyTorch ran different workloads (T, rows or drawn lengths differ)"
        tf32 = a.precision == "tf32"
        wrong = [r for r in loom_runs if "error" not in r and r.get("matmul_precision") != matmul_precision]
        wrong += [r for r in torch_runs if "error" not in r and
                  (r.get("allow_tf32_matmul") != tf32 or r.get("allow_tf32_cudnn") != tf32)]
        if wrong:
            note = ((note + "; ") if note else "") + (f"loom and PyTorch ran in different precisions (asked "
                                                      f"{a.precision}; see loom_runs/pytorch_runs)")
        speedup = pt["median_ms"] / lo["median_ms"] if lo and pt else None
        cpu_speedup = (pt["cpu_median_ms"] / lo["cpu_median_ms"]
                       if lo and pt and lo["cpu_median_ms"] and pt["cpu_median_ms"] else None)
        result = {"name": row["name"], "configuration": describe(srow, a.precision), "args": args,
                  "precision": a.precision,
                  "loom": lo, "pytorch": pt, "speedup_pytorch_over_loom": speedup,
                  "cpu_time_speedup_pytorch_over_loom": cpu_speedup, "note": note,
                  "loom_runs": loom_runs, "pytorch_runs": torch_runs}
        results.append(result)
        cells = [result["configuration"], ms(lo and lo["median_ms"]), ms(pt and pt["median_ms"]),
                 "-" if speedup is None else f"{speedup:.2f}", ms(lo and lo["min_ms"]), ms(pt and pt["min_ms"]),
                 mib(lo and lo["peak_mem_bytes"]), mib(pt and pt["peak_mem_bytes"])]
        if device == "cpu":
            cells.append("-" if cpu_speedup is None else f"{cpu_speedup:.2f}")
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))),
              flush=True)
        for impl, runs in (("loom", loom_runs), ("PyTorch", torch_runs)):
            for run in runs:
                if "error" in run:
                    print(f"    {impl} failed: {run['error']}", flush=True)
        if note:
            print(f"    {note}", flush=True)

    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump({"header": header, "rows": results}, f, indent=1)
    with open(os.path.join(a.out_dir, "results.md"), "w") as f:
        f.write(markdown(header, results))
    print(f"# wrote {os.path.join(a.out_dir, 'results.json')} and results.md")
    return 1 if any(r["loom"] is None or r["pytorch"] is None for r in results) else 0


def markdown(header, results):
    """The rows as a markdown table with the run's facts above it."""
    h = header
    lines = [f"Measured {h['date']} on {h['device']} ({h['device_name']}); PyTorch {h['pytorch']}; "
             f"loom {h['loom_commit']}."]
    if h["device"] == "cpu":
        size = f"suite scaled down by {h['scale']}" if h["scale"] > 1 else "suite at full size"
        lines.append(f"CPU run, {size}; threads: {h['threads']}; peak memory '-': it is the CUDA "
                     f"allocator's statistic, not measured on the CPU.")
    else:
        lines.append(f"Driver {h['driver']}, CUDA {h['cuda_version']}, cuDNN {h['cudnn_version']}.")
    lines.append(f"Precision {h['precision']}: {h['tf32']}.")
    if h["loom_args"]:
        lines.append(f"loom-bench also given: `{' '.join(h['loom_args'])}`.")
    lines.append(f"{h['rounds']} round(s) per row alternating loom/PyTorch, each {h['warmup']} warm-up + "
                 f"{h['repeats']} timed steps; ms = median of the round medians; speedup = PyTorch ms / loom ms "
                 f"(> 1: loom faster).")
    cpu = h["device"] == "cpu"
    if cpu:
        lines.append("cpu ms: median process CPU time per step (user + system, all threads), median over rounds; "
                     "cpu-time speedup = PyTorch cpu ms / loom cpu ms.")
    lines += ["", "| configuration | loom ms | PyTorch ms | speedup | loom min ms | PyTorch min ms | loom peak MiB "
              "| PyTorch peak MiB |" + (" loom cpu ms | PyTorch cpu ms | cpu-time speedup |" if cpu else ""),
              "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if cpu else "")]
    for r in results:
        lo, pt, s = r["loom"], r["pytorch"], r["speedup_pytorch_over_loom"]
        cs = r["cpu_time_speedup_pytorch_over_loom"]
        lines.append(f"| {r['configuration']} | {ms(lo and lo['median_ms'])} | {ms(pt and pt['median_ms'])} | "
                     f"{'-' if s is None else f'{s:.2f}'} | {ms(lo and lo['min_ms'])} | {ms(pt and pt['min_ms'])} | "
                     f"{mib(lo and lo['peak_mem_bytes'])} | {mib(pt and pt['peak_mem_bytes'])} |"
                     + (f" {ms(lo and lo['cpu_median_ms'])} | {ms(pt and pt['cpu_median_ms'])} | "
                        f"{'-' if cs is None else f'{cs:.2f}'} |" if cpu else ""))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

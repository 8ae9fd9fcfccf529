#!/usr/bin/env python3
"""compare.py: loom vs PyTorch on the standard suite, on one machine, in one go.

  python3 bench/compare.py [--loom-bench build/bin/loom-bench] [--device auto|cpu|cuda]
                           [--torch-python PY] [--threads K] [--rounds R] [--scale S]
                           [--warmup W] [--repeats R] [--only SUBSTRING] [--suite bench/suite.json]
                           [--out-dir build/bench] [--loom-arg=--cuda-graphs=1 ...]
                           [--precision fp32|tf32|bf16|fp16|all]

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

Precision (--precision, both sides alike). It applies to the suite's float32
rows; rows of another dtype (float64, or the explicitly 16-bit rows of
bench/suite_half.json) keep their dtype in every precision:
  fp32 (default)  TF32 off: loom-bench --matmul-precision highest, torch_bench.py
                  --matmul-precision highest (allow_tf32 False for matmul and cuDNN);
  tf32            TF32 on: loom-bench --matmul-precision high (every float32 cuBLAS
                  GEMM), torch_bench.py --matmul-precision high (allow_tf32 True for
                  matmul and cuDNN: PyTorch's default for cuDNN RNNs);
  bf16            the module, x and g in bfloat16 on both sides: loom-bench
                  --dtype bfloat16, torch_bench.py --dtype bfloat16 (.to(bfloat16),
                  flatten_parameters() on CUDA); TF32 off;
  fp16            mixed precision: float32 module and input, forward and loss under
                  autocast to float16: loom-bench --autocast float16
                  (loom::autocast(kFloat16)), torch_bench.py --autocast float16
                  (torch.autocast(device, dtype=torch.float16)); g in the output's
                  dtype; TF32 off;
  all             the four in turn, one table each (one section each in results.md,
                  all rows in results.json); without --rounds a row gets the suite's
                  rounds_all rounds (fewer: bench/suite.json sizes it for ~4 minutes
                  of H200 time).
Each side's JSON line echoes what it ran with (matmul_precision or allow_tf32_*,
dtype, autocast, output_dtype); a row where either side did not run in the asked
precision gets the note "ran in different precisions". The CPU has no TF32:
there tf32 changes nothing on either side (said in the header). Where PyTorch
cannot run a precision at all (PyTorch 1.13 on the CPU: no float16 autocast,
no float16 RNNs), torch_bench.py says so (exit 3, "unsupported") and the row
shows loom alone, PyTorch "n/a" and the reason; that is not a failure.
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


PRECISIONS = ["fp32", "tf32", "bf16", "fp16"]
# --precision -> the --matmul-precision both benchmarks are given.
MATMUL_PRECISION = {"fp32": "highest", "tf32": "high", "bf16": "highest", "fp16": "highest"}
# What each precision runs, said in the header and results.md.
PRECISION_WORDS = {
    "fp32": "TF32 off on both sides (loom --matmul-precision highest; PyTorch allow_tf32 False for matmul and cuDNN)",
    "tf32": "TF32 ON on both sides (loom --matmul-precision high; PyTorch allow_tf32 True for matmul and cuDNN)",
    "bf16": "bfloat16 modules on both sides (loom-bench --dtype bfloat16; PyTorch module.to(bfloat16), "
            "flatten_parameters() on CUDA; x and g in bfloat16); TF32 off",
    "fp16": "float16 autocast on both sides, float32 parameters and input (loom-bench --autocast float16 = "
            "loom::autocast(kFloat16); PyTorch torch.autocast(device, dtype=torch.float16)); g in the output's "
            "dtype; TF32 off",
}


def run_spec(row, precision):
    """(dtype, autocast or None, label) a row runs in at this precision: float32 rows follow it,
    rows of another dtype keep theirs."""
    dtype = row.get("dtype", "float32")
    if dtype != "float32":
        return dtype, None, {"float64": "fp64", "bfloat16": "bf16", "float16": "fp16"}[dtype]
    if precision == "bf16":
        return "bfloat16", None, "bf16"
    if precision == "fp16":
        return "float32", "float16", "fp16 autocast"
    return "float32", None, precision


def describe(row, precision="fp32"):
    """'LSTM C=H=1024 N=64 T=100 L=2 train fp32' (tf32, bf16, fp16 autocast; fp64 rows stay fp64) and the like."""
    mode = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN-tanh", "rnn_relu": "RNN-relu"}[row["mode"]]
    if row.get("bidirectional"):
        mode += " bi"
    if row.get("layer_norm"):
        mode = "LN-" + mode
    size = f"C=H={row['C']}" if row["C"] == row["H"] else f"C={row['C']} H={row['H']}"
    if row.get("proj_size"):
        size += f" P={row['proj_size']}"
    t = f"len~U[{row['lengths'][0]},{row['lengths'][1]}]" if row.get("lengths") else f"T={row['T']}"
    label = run_spec(row, precision)[2]
    return f"{mode} {size} N={row['N']} {t} L={row.get('layers', 1)} {row.get('step', 'train')} {label}"


def bench_args(row, device, warmup, repeats, precision="fp32"):
    """The arguments both benchmarks get for this row at this precision (--matmul-precision aside)."""
    dtype, autocast, _ = run_spec(row, precision)
    args = ["--mode", row["mode"], "--N", str(row["N"]), "--C", str(row["C"]), "--H", str(row["H"]),
            "--layers", str(row.get("layers", 1)), "--bidirectional", str(int(row.get("bidirectional", 0))),
            "--proj-size", str(row.get("proj_size", 0)), "--dtype", dtype,
            "--step", row.get("step", "train"), "--seed", str(row.get("seed", 0)), "--device", device,
            "--warmup", str(warmup), "--repeats", str(repeats)]
    if row.get("lengths"):
        args += ["--lengths", f"{row['lengths'][0]}:{row['lengths'][1]}"]
    else:
        args += ["--T", str(row["T"])]
    if autocast:
        args += ["--autocast", autocast]
    if row.get("layer_norm"):
        args += ["--layer-norm", "1"]  # loom: the fused layer; PyTorch: bench/torch_layer_norm_rnn.py
    return args


def precision_mismatch(run, impl, precision, row):
    """Why a benchmark's JSON line shows it did not run this row in the asked precision, or None."""
    dtype, autocast, _ = run_spec(row, precision)
    expected = {"dtype": dtype, "autocast": autocast, "output_dtype": autocast or dtype}
    tf32 = precision == "tf32"
    if impl == "loom":
        expected["matmul_precision"] = MATMUL_PRECISION[precision]
    else:
        expected["allow_tf32_matmul"] = tf32
        expected["allow_tf32_cudnn"] = tf32
    wrong = [f"{k} {run.get(k)!r} (asked {v!r})" for k, v in expected.items() if run.get(k) != v]
    return ", ".join(wrong) or None


def run_one(cmd, env, timeout):
    """The JSON line a benchmark printed, {'unsupported': reason} when it said it cannot run this
    precision here (torch_bench.py, exit 3), or {'error': text}."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode == 3 and lines:
        line = json.loads(lines[-1])
        if "unsupported" in line:
            return line
    if r.returncode != 0 or not lines:
        return {"error": (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}")[-500:]}
    return json.loads(lines[-1])


def aggregate(runs):
    """Median of the per-round medians, minimum of minima, largest peak; None when any run failed
    or could not run."""
    if not runs or any("error" in r or "unsupported" in r for r in runs):
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


def row_cells(result, cpu):
    """The table cells of one result row."""
    lo, pt, speedup = result["loom"], result["pytorch"], result["speedup_pytorch_over_loom"]
    pt_ms = (lambda k: "n/a") if result.get("pytorch_unsupported") else (lambda k: ms(pt and pt[k]))
    cells = [result["configuration"], ms(lo and lo["median_ms"]), pt_ms("median_ms"),
             "-" if speedup is None else f"{speedup:.2f}", ms(lo and lo["min_ms"]), pt_ms("min_ms"),
             mib(lo and lo["peak_mem_bytes"]), mib(pt and pt["peak_mem_bytes"])]
    if cpu:
        cs = result["cpu_time_speedup_pytorch_over_loom"]
        cells.append("-" if cs is None else f"{cs:.2f}")
    return cells


COLUMNS = ["configuration", "loom ms", "PyTorch ms", "speedup", "loom min", "PyTorch min", "loom MiB",
           "PyTorch MiB", "cpu-time speedup"]
WIDTHS = [60, 9, 10, 8, 9, 11, 9, 11, 16]


def print_line(cells):
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS))),
          flush=True)


def run_table(precision, rows, ctx):
    """Runs every row at one precision, printing its table; returns the result rows."""
    a, device, scale = ctx["args"], ctx["device"], ctx["scale"]
    words = PRECISION_WORDS[precision]
    if device == "cpu" and precision == "tf32":
        words += "; the CPU has no TF32, so this changes nothing here"
    print(f"# precision {precision}: {words}", flush=True)
    print_line(COLUMNS[:8] + (COLUMNS[8:] if device == "cpu" else []))
    precision_args = ["--matmul-precision", MATMUL_PRECISION[precision]]
    results = []
    for row in rows:
        srow = scaled(row, scale if device == "cpu" else 1)
        args = bench_args(srow, device, ctx["warmup"], ctx["repeats"], precision)
        runs = {"loom": [], "pytorch": []}
        cmds = {"loom": [a.loom_bench] + args + precision_args + a.loom_arg,
                "pytorch": ctx["torch_cmd"] + args + precision_args}
        for r in range(ctx["rounds"]):
            order = ["loom", "pytorch"] if r % 2 == 0 else ["pytorch", "loom"]
            for impl in order:
                if runs[impl] and "unsupported" in runs[impl][0]:
                    continue  # it said so once: no need to ask again
                runs[impl].append(run_one(cmds[impl], ctx["env"], a.timeout))
        loom_runs, torch_runs = runs["loom"], runs["pytorch"]
        lo, pt = aggregate(loom_runs), aggregate(torch_runs)
        notes = []
        if lo and pt and any(loom_runs[0].get(k) != torch_runs[0].get(k) for k in ("T", "rows", "lengths_drawn")):
            notes.append("loom and PyTorch ran different workloads (T, rows or drawn lengths differ)")
        if lo and pt and bool(loom_runs[0].get("layer_norm")) != bool(torch_runs[0].get("layer_norm")):
            notes.append("loom and PyTorch ran different workloads (one side without the layer norms)")
        wrong = [f"{impl}: {why}" for impl, impl_runs in (("loom", loom_runs), ("pytorch", torch_runs))
                 for run in impl_runs[:1] if "error" not in run and "unsupported" not in run
                 for why in [precision_mismatch(run, impl, precision, srow)] if why]
        if wrong:
            notes.append(f"loom and PyTorch ran in different precisions (asked {precision}; {'; '.join(wrong)})")
        unsupported = {impl: impl_runs[0]["unsupported"] for impl, impl_runs in runs.items()
                       if impl_runs and "unsupported" in impl_runs[0]}
        for impl, why in unsupported.items():
            notes.append(f"{'loom' if impl == 'loom' else 'PyTorch'} cannot run this precision here (n/a): {why}")
        speedup = pt["median_ms"] / lo["median_ms"] if lo and pt else None
        cpu_speedup = (pt["cpu_median_ms"] / lo["cpu_median_ms"]
                       if lo and pt and lo["cpu_median_ms"] and pt["cpu_median_ms"] else None)
        result = {"name": row["name"], "configuration": describe(srow, precision), "args": args,
                  "precision": precision, "loom": lo, "pytorch": pt, "speedup_pytorch_over_loom": speedup,
                  "cpu_time_speedup_pytorch_over_loom": cpu_speedup, "note": "; ".join(notes) or None,
                  "loom_unsupported": unsupported.get("loom"), "pytorch_unsupported": unsupported.get("pytorch"),
                  "loom_runs": loom_runs, "pytorch_runs": torch_runs}
        results.append(result)
        print_line(row_cells(result, device == "cpu"))
        for impl, impl_runs in (("loom", loom_runs), ("PyTorch", torch_runs)):
            for run in impl_runs:
                if "error" in run:
                    print(f"    {impl} failed: {run['error']}", flush=True)
        for note in notes:
            print(f"    {note}", flush=True)
    return results


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
    p.add_argument("--precision", default="fp32", choices=PRECISIONS + ["all"],
                   help="fp32: TF32 off on both sides (default); tf32: TF32 on both sides; bf16: bfloat16 "
                        "modules; fp16: float16 autocast; all: the four, one table each")
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
    precisions = PRECISIONS if a.precision == "all" else [a.precision]
    default_rounds = settings.get("rounds", 1)
    if a.precision == "all":
        default_rounds = settings.get("rounds_all", default_rounds)
    rounds = a.rounds or default_rounds
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
    torch_cmd = [py, os.path.join(HERE, "torch_bench.py")] + (["--threads", str(a.threads)] if device == "cpu" else [])
    words = {}
    for prec in precisions:
        words[prec] = PRECISION_WORDS[prec]
        if device == "cpu" and prec == "tf32":
            words[prec] += "; the CPU has no TF32, so this changes nothing here"

    header = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device,
        "device_name": info["gpu"] if device == "cuda" else cpu_name(),
        "driver": gpu_driver() if device == "cuda" else None,
        "cuda_version": info["cuda_version"], "cudnn_version": info["cudnn"],
        "pytorch": info["torch"], "pytorch_python": py,
        "loom_commit": git_commit(), "loom_bench": os.path.abspath(a.loom_bench),
        "threads": threads_note, "loom_args": a.loom_arg, "precision": a.precision,
        "precisions": precisions, "precision_words": words,
        # Kept for readers of single-precision results (the words of the one precision).
        "tf32": words[precisions[0]] if len(precisions) == 1 else None,
        "scale": scale, "rounds": rounds, "warmup": warmup, "repeats": repeats,
    }
    print(f"# loom vs PyTorch {info['torch']} on {device} ({header['device_name']}), {header['date']}, "
          f"loom {header['loom_commit']}")
    if device == "cpu":
        size = f"suite SCALED DOWN by {scale} (C, H, N, T, lengths / {scale})" if scale > 1 else "suite at full size"
        print(f"# CPU run, {size}; threads: {threads_note}; peak memory: '-' (CUDA allocator statistic only)")
    else:
        print(f"# driver {header['driver']}, CUDA {info['cuda_version']}, cuDNN {info['cudnn']}")
    print(f"# precision {a.precision}" + (f": {', '.join(precisions)}, one table each" if len(precisions) > 1 else "")
          + "; float32 rows run in it, rows of another dtype (fp64) keep theirs")
    if a.loom_arg:
        print(f"# loom-bench also given: {' '.join(a.loom_arg)}")
    print(f"# per row: {rounds} round(s) alternating loom/PyTorch, each {warmup} warm-up + {repeats} timed "
          f"steps; ms = median of the round medians; speedup = PyTorch ms / loom ms (> 1: loom faster)")

    ctx = {"args": a, "device": device, "scale": scale, "rounds": rounds, "warmup": warmup, "repeats": repeats,
           "env": env, "torch_cmd": torch_cmd}
    results = []
    for prec in precisions:
        results += run_table(prec, rows, ctx)

    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump({"header": header, "rows": results}, f, indent=1)
    with open(os.path.join(a.out_dir, "results.md"), "w") as f:
        f.write(markdown(header, results))
    print(f"# wrote {os.path.join(a.out_dir, 'results.json')} and results.md")
    failed = [r for r in results if (r["loom"] is None and not r["loom_unsupported"])
              or (r["pytorch"] is None and not r["pytorch_unsupported"])]
    return 1 if failed else 0


def markdown(header, results):
    """The rows as markdown, one table per precision, with the run's facts above them."""
    h = header
    lines = [f"Measured {h['date']} on {h['device']} ({h['device_name']}); PyTorch {h['pytorch']}; "
             f"loom {h['loom_commit']}."]
    if h["device"] == "cpu":
        size = f"suite scaled down by {h['scale']}" if h["scale"] > 1 else "suite at full size"
        lines.append(f"CPU run, {size}; threads: {h['threads']}; peak memory '-': it is the CUDA "
                     f"allocator's statistic, not measured on the CPU.")
    else:
        lines.append(f"Driver {h['driver']}, CUDA {h['cuda_version']}, cuDNN {h['cudnn_version']}.")
    if h["loom_args"]:
        lines.append(f"loom-bench also given: `{' '.join(h['loom_args'])}`.")
    lines.append(f"{h['rounds']} round(s) per row alternating loom/PyTorch, each {h['warmup']} warm-up + "
                 f"{h['repeats']} timed steps; ms = median of the round medians; speedup = PyTorch ms / loom ms "
                 f"(> 1: loom faster). Float32 rows run in the table's precision; rows of another dtype (fp64) "
                 f"keep theirs.")
    cpu = h["device"] == "cpu"
    if cpu:
        lines.append("cpu ms: median process CPU time per step (user + system, all threads), median over rounds; "
                     "cpu-time speedup = PyTorch cpu ms / loom cpu ms.")
    for prec in h["precisions"]:
        rows = [r for r in results if r["precision"] == prec]
        lines += ["", f"Precision {prec}: {h['precision_words'][prec]}.", "",
                  "| configuration | loom ms | PyTorch ms | speedup | loom min ms | PyTorch min ms | loom peak MiB "
                  "| PyTorch peak MiB |" + (" loom cpu ms | PyTorch cpu ms | cpu-time speedup |" if cpu else ""),
                  "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if cpu else "")]
        for r in rows:
            cells = row_cells(r, False)
            if cpu:
                lo, pt = r["loom"], r["pytorch"]
                cs = r["cpu_time_speedup_pytorch_over_loom"]
                cells += [ms(lo and lo["cpu_median_ms"]),
                          "n/a" if r["pytorch_unsupported"] else ms(pt and pt["cpu_median_ms"]),
                          "-" if cs is None else f"{cs:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        reasons = sorted({r[k] for r in rows for k in ("loom_unsupported", "pytorch_unsupported") if r[k]})
        if reasons:
            n = sum(1 for r in rows if r["loom_unsupported"] or r["pytorch_unsupported"])
            lines += ["", f"n/a: {n} of {len(rows)} rows could not run in {prec} on one side here: "
                      + "; ".join(reasons) + "."]
        noted = [f"{r['configuration']}: {r['note']}" for r in rows if r["note"] and not
                 (r["loom_unsupported"] or r["pytorch_unsupported"])]
        if noted:
            lines += ["", "Notes: " + "; ".join(noted) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""check_precision_results.py: checks a `compare.py --precision all` run (the ctest entry
bench_compare_smoke_all, tests/bench.cmake).

  check_precision_results.py OUT_DIR SUITE

Exit 0 when OUT_DIR/results.json and results.md hold the four tables (fp32, tf32, bf16,
fp16), each with every row of SUITE, and each side's JSON line says it ran what the
precision asks. The expectations are written out here, independently of compare.py:

  precision  float32 row: dtype / autocast / output dtype   loom matmul   PyTorch allow_tf32
  fp32       float32 / none / float32                       highest       False
  tf32       float32 / none / float32                       high          True
  bf16       bfloat16 / none / bfloat16                     highest       False
  fp16       float32 / float16 / float16                    highest       False

A row of another dtype (float64) keeps it: that dtype, no autocast. loom must have timed
every row. PyTorch must have timed every row too, except fp16 float32 rows on the CPU,
where it may say it cannot (PyTorch 1.13's CPU autocast refuses float16); then the row
must carry that reason and show "n/a" in results.md.
"""
import json
import os
import sys

EXPECTED = {  # precision -> (dtype, autocast, output dtype, loom matmul precision, PyTorch allow_tf32)
    "fp32": ("float32", None, "float32", "highest", False),
    "tf32": ("float32", None, "float32", "high", True),
    "bf16": ("bfloat16", None, "bfloat16", "highest", False),
    "fp16": ("float32", "float16", "float16", "highest", False),
}

# How each table's line in results.md begins.
SAYS = {"fp32": "TF32 off on both sides", "tf32": "TF32 ON on both sides", "bf16": "bfloat16 modules on both sides",
        "fp16": "float16 autocast on both sides"}


def check(out_dir, suite_path):
    """The list of problems found (empty when the run is right)."""
    with open(os.path.join(out_dir, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(out_dir, "results.md")) as f:
        md = f.read()
    with open(suite_path) as f:
        suite = json.load(f)
    device = results["header"]["device"]
    problems = []
    if results["header"].get("precisions") != list(EXPECTED):
        problems.append(f"header precisions {results['header'].get('precisions')}, expected {list(EXPECTED)}")
    for precision, (dtype32, autocast32, out32, matmul, tf32) in EXPECTED.items():
        section = f"\nPrecision {precision}: {SAYS[precision]}"
        if section not in md:
            problems.append(f"results.md has no table for {precision} (no line starting '{section.strip()}')")
        if device == "cpu" and precision == "tf32" and "the CPU has no TF32" not in md:
            problems.append("results.md does not say the CPU has no TF32")
        rows = {r["name"]: r for r in results["rows"] if r["precision"] == precision}
        for srow in suite["rows"]:
            name = srow["name"]
            r = rows.get(name)
            if r is None:
                problems.append(f"{precision}: row {name} missing")
                continue
            float32_row = srow.get("dtype", "float32") == "float32"
            dtype, autocast, out = (dtype32, autocast32, out32) if float32_row else (srow["dtype"], None, srow["dtype"])
            where = f"{precision} {name}"
            if r["note"] and ("different precisions" in r["note"] or "different workloads" in r["note"]):
                problems.append(f"{where}: note: {r['note']}")
            sides = [("loom", r["loom_runs"]), ("pytorch", r["pytorch_runs"])]
            for impl, runs in sides:
                if not runs:
                    problems.append(f"{where}: {impl} never ran")
                for run in runs:
                    if "error" in run:
                        problems.append(f"{where}: {impl} failed: {run['error']}")
                        continue
                    if "unsupported" in run:
                        allowed = impl == "pytorch" and device == "cpu" and precision == "fp16" and float32_row
                        if not allowed:
                            problems.append(f"{where}: {impl} said unsupported: {run['unsupported']}")
                        elif not r.get("pytorch_unsupported") or r["pytorch"] is not None:
                            problems.append(f"{where}: PyTorch's 'unsupported' is not in the row")
                        elif f"| {r['configuration']} | " not in md or "n/a" not in md:
                            problems.append(f"{where}: results.md does not show the row as n/a")
                        continue
                    got = (run.get("dtype"), run.get("autocast"), run.get("output_dtype"))
                    if got != (dtype, autocast, out):
                        problems.append(f"{where}: {impl} ran dtype/autocast/output {got}, expected "
                                        f"{(dtype, autocast, out)}")
                    if impl == "loom" and run.get("matmul_precision") != matmul:
                        problems.append(f"{where}: loom matmul_precision {run.get('matmul_precision')}, "
                                        f"expected {matmul}")
                    if impl == "pytorch" and (run.get("allow_tf32_matmul"), run.get("allow_tf32_cudnn")) != (tf32, tf32):
                        problems.append(f"{where}: PyTorch allow_tf32 {run.get('allow_tf32_matmul')}/"
                                        f"{run.get('allow_tf32_cudnn')}, expected {tf32}")
                    if not run.get("median_ms", 0) > 0:
                        problems.append(f"{where}: {impl} has no timing")
            label = {"fp32": "fp32", "tf32": "tf32", "bf16": "bf16", "fp16": "fp16 autocast"}[precision]
            if float32_row and not r["configuration"].endswith(f" {label}"):
                problems.append(f"{where}: configuration '{r['configuration']}' is not labelled {label}")
            if r["loom"] is None:
                problems.append(f"{where}: loom has no result")
    return problems


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: check_precision_results.py OUT_DIR SUITE")
    problems = check(argv[0], argv[1])
    for p in problems:
        print(f"check_precision_results: {p}")
    if problems:
        return 1
    print("check_precision_results: four tables, every row, each side ran the asked precision")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

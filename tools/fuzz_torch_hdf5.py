#!/usr/bin/python3
"""Seeded mutation fuzzer for tools/torch_hdf5.py (both directions).

  fuzz_torch_hdf5.py [--count N] [--to-torch N] [--to-loom N] [--seed S]
                     [--index I --direction to-torch|to-loom] [--work DIR]
                     [--timeout SECONDS] [--script tools/torch_hdf5.py]

to-torch inputs are damaged loom checkpoints (HDF5), to-loom inputs damaged
torch.save files. Both start from seed files this script writes (a 2-layer
LSTM + Linear state_dict, a GRU with float64/int64/bool entries; as a
state_dict, a whole module and a {"model": ..., "step": ...} dict), then apply
a mutation chosen by (seed, direction, index): byte-level damage (bit flips,
overwritten/zeroed blocks, truncation, inserted/deleted bytes) or structured
damage (through h5py: deleted or retyped datasets and attributes, other
shapes, huge chunked shapes, empty and null datasets, NaN/inf, edited 'keys',
links; through torch.save: non-tensor values, other dtypes, sparse tensors,
bad keys, lists, nested dicts).

Each input runs torch_hdf5.main() in a forked child with a time limit. It must
end in exit status 0 (converted) or 1 with exactly one line on stderr,
"torch_hdf5.py: error: ...", naming the input file. Anything else (a
traceback, another status, a crash, a hang, a message without the file name)
is a failure, printed with the seed and index; the input is kept in
<work>/failures/. Exit status 0 when every input passed, 1 otherwise, 77 when
torch or h5py is missing.
"""

import argparse
import collections
import importlib.util
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    print("fuzz_torch_hdf5.py: skipped: needs torch and h5py: %s" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
INTS = [0, 1, -1, 2, 3, 255, 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, -2**63]
FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e308, 5e-324, 1.5, 2.0]
STRINGS = ["", "loom-checkpoint", "keras", "x\n\ny", "a/b", "..", "\n", "k" * 5000]


# ---- seeds ------------------------------------------------------------------------------------

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 5, num_layers=2)
        self.head = torch.nn.Linear(5, 2)


def make_seeds(torch_hdf5, folder):
    """Writes the seed files; returns {"to-torch": [h5...], "to-loom": [pt...]}."""
    torch.manual_seed(0)
    net = Net()
    gru = torch.nn.GRU(2, 3, batch_first=True, bidirectional=True).double()
    gru_sd = collections.OrderedDict(gru.state_dict())
    gru_sd["steps"] = torch.tensor(7, dtype=torch.int64)
    gru_sd["mask"] = torch.tensor([True, False, True])
    gru_sd["special"] = torch.tensor([float("nan"), float("inf"), -0.0], dtype=torch.float64)
    pts = []
    for name, obj in [("net_state_dict.pt", net.state_dict()), ("gru_state_dict.pt", gru_sd),
                      ("net_module.pt", net), ("training_dict.pt", {"model": net.state_dict(), "step": 3})]:
        path = os.path.join(folder, name)
        torch.save(obj, path)
        pts.append(path)
    h5s = []
    for pt, key in [(pts[0], None), (pts[1], None)]:
        path = os.path.join(folder, os.path.basename(pt).replace(".pt", ".h5"))
        torch_hdf5.to_loom(pt, path, key)
        h5s.append(path)
    return {"to-torch": h5s, "to-loom": pts}


# ---- mutations ---------------------------------------------------------------------------------

def byte_mutation(data, r):
    b = bytearray(data)
    if not b:
        return b, "empty file left empty"
    pos = r.randrange(len(b))
    kind = r.randrange(7)
    if kind == 0:
        n = r.randint(1, 8)
        for _ in range(n):
            i = min(len(b) - 1, pos + r.randrange(32))
            b[i] ^= 1 << r.randrange(8)
        return b, "%d bit flip(s) near byte %d" % (n, pos)
    if kind == 1:
        n = r.randint(1, 8)
        for i in range(pos, min(len(b), pos + n)):
            b[i] = r.choice([0, 0xff, 0x7f, 0x80, r.randrange(256)])
        return b, "%d byte(s) overwritten at %d" % (n, pos)
    if kind == 2:
        n = min(len(b) - pos, r.randint(1, 2048))
        b[pos:pos + n] = bytes(n)
        return b, "%d byte(s) zeroed at %d" % (n, pos)
    if kind == 3:
        n = min(len(b) - pos, r.randint(1, 512))
        b[pos:pos + n] = bytes(r.randrange(256) for _ in range(n))
        return b, "%d random byte(s) at %d" % (n, pos)
    if kind == 4:
        return b[:pos], "truncated to %d bytes" % pos
    if kind == 5:
        n = r.randint(1, 16)
        b[pos:pos] = bytes(r.randrange(256) for _ in range(n))
        return b, "%d byte(s) inserted at %d" % (n, pos)
    n = r.randint(1, 64)
    del b[pos:pos + n]
    return b, "%d byte(s) deleted at %d" % (n, pos)


def h5_objects(f):
    datasets, groups, attrs = [], [], [("/", k) for k in f.attrs]
    def visit(name, obj):
        (groups if isinstance(obj, h5py.Group) else datasets).append(name)
        attrs.extend((name, k) for k in obj.attrs)
    f.visititems(visit)
    return datasets, groups, attrs


def h5_structured(path, r):
    with h5py.File(path, "r+") as f:
        datasets, groups, attrs = h5_objects(f)
        kind = r.randrange(11)
        if kind == 0 and datasets + groups:
            name = r.choice(datasets + groups)
            del f[name]
            return "'%s' deleted" % name
        if kind == 1 and attrs:
            obj, name = r.choice(attrs)
            del f[obj].attrs[name]
            return "attribute '%s' of '%s' deleted" % (name, obj)
        if kind == 2 and attrs:
            obj, name = r.choice(attrs)
            value = r.choice([r.choice(INTS), r.choice(FLOATS), r.choice(STRINGS), np.arange(3),
                              np.bytes_(b"loom-checkpoint"), h5py.Empty("f8")])
            if isinstance(value, int) and not -2**63 <= value < 2**63:
                value = 0
            f[obj].attrs[name] = value
            return "attribute '%s' of '%s' -> %r" % (name, obj, value if not isinstance(value, str) else value[:20])
        if kind == 3 and "keys" in f.get("model", {}).attrs if isinstance(f.get("model"), h5py.Group) else False:
            keys = f["model"].attrs["keys"]
            keys = keys.decode() if isinstance(keys, bytes) else str(keys)
            lines = keys.split("\n")
            i = r.randrange(len(lines))
            op = r.randrange(4)
            if op == 0:
                lines.append(lines[i])
            elif op == 1:
                del lines[i]
            elif op == 2:
                lines.append("ghost")
            else:
                lines[i] += "x"
            f["model"].attrs["keys"] = "\n".join(lines)
            return "model keys edited (%d)" % op
        if datasets and kind in (3, 4, 5, 6, 7):
            name = r.choice(datasets)
            ds = f[name]
            shape, dtype = ds.shape, ds.dtype
            del f[name]
            if kind == 3:
                new = r.choice(["i4", "u8", "f2", "c8", ">f8", "S4", "i1", h5py.string_dtype()])
                f.create_dataset(name, shape=shape, dtype=new)
                return "dataset '%s' -> dtype %s" % (name, new)
            if kind == 4:
                new = r.choice([(), (0,), shape + (2,), shape[:-1], tuple(reversed(shape)) + (1,), (1,) * 32])
                f.create_dataset(name, data=np.ones(new, dtype=dtype))
                return "dataset '%s' -> shape %s" % (name, new)
            if kind == 5:
                new = r.choice([(2**33,), (2**40,), (2**31 + 1, 3), (2**62,), (200000, 3000)])
                f.create_dataset(name, shape=new, chunks=(1,) * len(new), dtype=dtype)
                return "dataset '%s' -> huge chunked shape %s" % (name, new)
            if kind == 6:
                f.create_dataset(name, data=h5py.Empty(dtype if dtype.kind in "fiub" else "f8"))
                return "dataset '%s' -> null dataspace" % name
            values = np.full(shape, r.choice(FLOATS) if dtype.kind == "f" else r.choice(INTS[:8]), dtype=dtype) \
                if dtype.kind in "fi" else np.zeros(shape, dtype=dtype)
            f.create_dataset(name, data=values)
            return "dataset '%s' -> extreme values" % name
        if kind == 8:
            where = r.choice(["extra", "model/extra", "optimizer/x"])
            f.create_group(where) if r.random() < 0.5 else f.create_dataset(where, data=[1.0])
            return "extra object '%s'" % where
        if kind == 9 and datasets + groups:
            name = r.choice(datasets + groups)
            del f[name]
            target = r.choice(["soft-root", "soft-dangling", "external"])
            if target == "soft-root":
                f[name] = h5py.SoftLink("/")
            elif target == "soft-dangling":
                f[name] = h5py.SoftLink("/no/such")
            else:
                f[name] = h5py.ExternalLink("/no/such/file.h5", "/")
            return "'%s' -> %s link" % (name, target)
        if "model" in f:
            del f["model"]
            f.create_dataset("model", data=[1.0])
            return "group 'model' -> a dataset"
        return "no structured change"


def pt_structured(folder, r, index):
    torch.manual_seed(index)
    sd = collections.OrderedDict(Net().state_dict())
    name = next(iter(sd))
    kind = r.randrange(12)
    if kind == 0:
        sd[name] = 3.5
        what = "a float value"
    elif kind == 1:
        sd[name] = sd[name].to(r.choice([torch.float16, torch.int32, torch.uint8, torch.complex64, torch.bfloat16]))
        what = "dtype %s" % sd[name].dtype
    elif kind == 2:
        sd[name] = sd[name].to_sparse()
        what = "a sparse tensor"
    elif kind == 3:
        sd[r.choice(["a/b", "", ".", "x\ny", 5, ("t",)])] = torch.zeros(2)
        what = "a bad key"
    elif kind == 4:
        sd = list(sd.values())
        what = "a list"
    elif kind == 5:
        sd = {}
        what = "an empty dict"
    elif kind == 6:
        sd = {"model": sd, "optimizer": {"state": {}}}
        what = "a nested dict (no --key)"
    elif kind == 7:
        sd[name] = torch.full_like(sd[name], r.choice([float("nan"), float("inf"), -float("inf"), -0.0, 3e38, 1e-45]))
        what = "NaN/inf values"
    elif kind == 8:
        sd[name] = sd[name].t() if sd[name].dim() == 2 else sd[name][::2]
        what = "a non-contiguous view"
    elif kind == 9:
        sd[name] = torch.zeros(0, 5)
        what = "an empty tensor"
    elif kind == 10:
        sd = None
        what = "None"
    else:
        sd[name] = torch.nn.Parameter(sd[name])
        what = "a Parameter"
    path = os.path.join(folder, "structured.pt")
    torch.save(sd, path)
    return path, "torch.save of a state_dict with " + what


def make_input(direction, seeds, work, seed, index):
    """Writes the damaged input for (seed, direction, index); returns (path, description, extra args)."""
    r = random.Random("%d/%s/%d" % (seed, direction, index))
    src = r.choice(seeds[direction])
    suffix = ".h5" if direction == "to-torch" else ".pt"
    path = os.path.join(work, "input" + suffix)
    args = []
    if direction == "to-loom" and os.path.basename(src) == "training_dict.pt" and r.random() < 0.7:
        args = ["--key", "model"]
    done = []
    structured = r.random() < 0.5
    if structured and direction == "to-loom":
        src, what = pt_structured(work, r, index)
        done.append(what)
    shutil.copyfile(src, path)
    if structured and direction == "to-torch":
        try:
            done.append(h5_structured(path, r))
        except Exception as e:  # the mutation itself failed: the input is the copy so far
            done.append("structured mutation failed (%s)" % type(e).__name__)
    if not structured or r.random() < 0.2:
        with open(path, "rb") as f:
            data = f.read()
        data, what = byte_mutation(data, r)
        with open(path, "wb") as f:
            f.write(data)
        done.append(what)
    return path, "%s: %s" % (os.path.basename(src), "; ".join(done)), args


# ---- running one input ------------------------------------------------------------------------

def run_child(torch_hdf5, direction, path, out, args, timeout):
    """Runs torch_hdf5.main in a forked child; returns (status, output)."""
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        os.dup2(wfd, 1)
        os.dup2(wfd, 2)
        signal.alarm(timeout)
        try:
            code = torch_hdf5.main([direction, path, out] + args)
        except SystemExit as e:
            code = 100 + (e.code if isinstance(e.code, int) else 1)
        except BaseException:
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 98)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    return status, b"".join(chunks).decode("utf-8", "replace")


def judge(status, output, path, timeout):
    """(passed, verdict) for one child's end."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGALRM:
            return False, "hang (no result within %d s)" % timeout
        return False, "crash (signal %d)" % sig
    code = os.WEXITSTATUS(status)
    if code == 0:
        return True, "accepted"
    if code == 99:
        return False, "traceback: " + output.strip().splitlines()[-1] if output.strip() else "traceback"
    if code != 1:
        return False, "exit status %d: %s" % (code, output.strip()[:300])
    lines = [l for l in output.splitlines() if l.strip()]
    if len(lines) != 1 or not lines[0].startswith("torch_hdf5.py: error: "):
        return False, "not a one-line error: %r" % output[:500]
    if path not in lines[0]:
        return False, "error does not name the file: " + lines[0]
    return True, "refused"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="inputs per direction")
    parser.add_argument("--to-torch", type=int, help="inputs for to-torch (default --count)")
    parser.add_argument("--to-loom", type=int, help="inputs for to-loom (default --count)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--index", type=int, help="replay this input alone (with --direction)")
    parser.add_argument("--direction", choices=["to-torch", "to-loom"])
    parser.add_argument("--work", help="work folder (default: a new temporary one)")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per input")
    parser.add_argument("--script", default=os.path.join(HERE, "torch_hdf5.py"))
    args = parser.parse_args(argv)
    if args.index is not None and args.direction is None:
        parser.error("--index needs --direction")

    spec = importlib.util.spec_from_file_location("torch_hdf5", args.script)
    torch_hdf5 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(torch_hdf5)
    torch.set_num_threads(1)

    work = args.work or tempfile.mkdtemp(prefix="loom-fuzz-torch-")
    os.makedirs(os.path.join(work, "seeds"), exist_ok=True)
    os.makedirs(os.path.join(work, "failures"), exist_ok=True)
    seeds = make_seeds(torch_hdf5, os.path.join(work, "seeds"))
    counts = {"to-torch": args.to_torch if args.to_torch is not None else args.count,
              "to-loom": args.to_loom if args.to_loom is not None else args.count}
    directions = [args.direction] if args.direction else ["to-torch", "to-loom"]
    failures = 0
    total = 0
    for direction in directions:
        indices = [args.index] if args.index is not None else range(counts[direction])
        tally = collections.Counter()
        t0 = time.time()
        for i in indices:
            path, what, extra = make_input(direction, seeds, work, args.seed, i)
            out = os.path.join(work, "output" + (".pt" if direction == "to-torch" else ".h5"))
            status, output = run_child(torch_hdf5, direction, path, out, extra, args.timeout)
            passed, verdict = judge(status, output, path, args.timeout)
            tally[verdict if passed else "FAILED"] += 1
            total += 1
            if args.index is not None:
                print("%s input %d (seed %d): %s\n  -> %s\n  %s" % (direction, i, args.seed, what, verdict, output.strip()))
            if not passed:
                failures += 1
                kept = os.path.join(work, "failures", "%s-seed%d-index%d%s" % (direction, args.seed, i, os.path.splitext(path)[1]))
                shutil.copyfile(path, kept)
                print("FAIL %s seed %d index %d: %s\n  mutation of %s\n  input kept: %s\n"
                      "  replay: fuzz_torch_hdf5.py --seed %d --direction %s --index %d"
                      % (direction, args.seed, i, verdict, what, kept, args.seed, direction, i))
        print("%s: %d mutated inputs in %.1f s, %s" % (direction, len(indices), time.time() - t0,
              ", ".join("%d %s" % (n, k) for k, n in sorted(tally.items()))))
        sys.stdout.flush()
    print("%d inputs, %d failure(s) (seed %d, work folder %s)" % (total, failures, args.seed, work))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""PyTorch <-> loom checkpoint interchange through tools/torch_hdf5.py.

  torch_hdf5_test.py --tool build/bin/loom-checkpoint-forward \
                     --script tools/torch_hdf5.py --workdir DIR

For several RNN/LSTM/GRU configurations, in float64 and float32:
 (a) PyTorch builds the module, saves its state_dict (.pt) and its output for
     a random input; torch_hdf5.py to-loom converts the .pt; loom (the C++
     tool) builds the same module from command-line options, loads the
     checkpoint, runs the input; its output must match PyTorch's.
 (b) loom draws a module from a seed, saves a checkpoint and its output;
     torch_hdf5.py to-torch converts the checkpoint; PyTorch loads it
     (strictly) into the same nn module; its output must match loom's.
Both directions also round-trip exactly (to-torch(to-loom(pt)) == pt, and
to-loom(to-torch(h5)) == h5's model group), and bad input is refused with
its message and exit status. Tolerances: float64 1e-12, float32 1e-5
(absolute, on values of order 1).

Exits 77 (skipped) when this Python lacks torch or h5py.
"""

import argparse
import collections
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import contextlib

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print("skipped: %s needs torch and h5py (%s)" % (sys.executable, e))
    sys.exit(77)

FAILURES = []
WORST = {}


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL: " + what)


def load_script(path):
    spec = importlib.util.spec_from_file_location("torch_hdf5", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Converter:
    """Runs torch_hdf5.py: as a process (cli=True) or through its main()."""

    def __init__(self, script):
        self.script = script
        self.module = load_script(script)

    def run(self, args, cli=False):
        """(exit status, stdout, stderr)."""
        if cli:
            p = subprocess.run([sys.executable, self.script] + args, capture_output=True, text=True)
            return p.returncode, p.stdout, p.stderr
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = self.module.main(args)
            except SystemExit as e:  # argparse
                code = e.code
        return code, out.getvalue(), err.getvalue()

    def ok(self, args, cli=False):
        code, out, err = self.run(args, cli)
        if code != 0:
            raise RuntimeError("torch_hdf5.py %s failed (%s): %s%s" % (" ".join(args), code, out, err))


# (name, --mode, constructor, kwargs, give initial states, L, N)
CONFIGS = [
    ("lstm_l2_bi_proj", "lstm", torch.nn.LSTM,
     dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=True, proj_size=3), True, 6, 4),
    ("gru_l2_batch_first", "gru", torch.nn.GRU,
     dict(input_size=4, hidden_size=6, num_layers=2, batch_first=True), True, 5, 3),
    ("rnn_relu_nobias", "rnn_relu", torch.nn.RNN,
     dict(input_size=3, hidden_size=5, nonlinearity="relu", bias=False), False, 7, 2),
    ("rnn_tanh_l3_bi", "rnn_tanh", torch.nn.RNN,
     dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True), True, 4, 3),
]
DTYPES = [("float64", torch.float64, 1e-12), ("float32", torch.float32, 1e-5)]


def tool_args(mode, kw, dtype_name):
    args = ["--mode", mode, "--input-size", str(kw["input_size"]), "--hidden-size", str(kw["hidden_size"]),
            "--num-layers", str(kw.get("num_layers", 1)), "--dtype", dtype_name]
    if kw.get("bidirectional"):
        args.append("--bidirectional")
    if kw.get("proj_size"):
        args += ["--proj-size", str(kw["proj_size"])]
    if not kw.get("bias", True):
        args.append("--no-bias")
    if kw.get("batch_first"):
        args.append("--batch-first")
    return args


def run_tool(tool, args):
    p = subprocess.run([tool] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s %s failed (%d): %s%s" % (tool, " ".join(args), p.returncode, p.stdout, p.stderr))


def make_input(ctor, kw, states, L, N, dtype, seed):
    """(input, h0, c0) in PyTorch's shapes; h0/c0 None when not given."""
    g = torch.Generator().manual_seed(seed)
    D = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    H = kw["hidden_size"]
    H_out = kw.get("proj_size", 0) or H
    shape = (N, L, kw["input_size"]) if kw.get("batch_first") else (L, N, kw["input_size"])
    x = torch.randn(*shape, generator=g, dtype=dtype)
    h0 = c0 = None
    if states:
        h0 = torch.randn(D * layers, N, H_out, generator=g, dtype=dtype)
        if ctor is torch.nn.LSTM:
            c0 = torch.randn(D * layers, N, H, generator=g, dtype=dtype)
    return x, h0, c0


def write_input(path, x, h0, c0):
    with h5py.File(path, "w") as f:
        f["input"] = x.numpy()
        if h0 is not None:
            f["h0"] = h0.numpy()
        if c0 is not None:
            f["c0"] = c0.numpy()


def torch_forward(module, x, h0, c0):
    """{'output', 'h_n'[, 'c_n']} as numpy arrays."""
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTM):
            y, (h, c) = module(x, None if h0 is None else (h0, c0))
            return {"output": y.numpy(), "h_n": h.numpy(), "c_n": c.numpy()}
        y, h = module(x, h0)
        return {"output": y.numpy(), "h_n": h.numpy()}


def compare(name, loom_path, expected, dtype, tol):
    with h5py.File(loom_path, "r") as f:
        check(sorted(f.keys()) == sorted(expected.keys()),
              "%s: loom wrote %s, expected %s" % (name, sorted(f.keys()), sorted(expected.keys())))
        for key, want in expected.items():
            if key not in f:
                continue
            got = f[key][()]
            check(got.dtype == want.dtype, "%s %s: dtype %s, expected %s" % (name, key, got.dtype, want.dtype))
            check(got.shape == want.shape, "%s %s: shape %s, expected %s" % (name, key, got.shape, want.shape))
            if got.shape != want.shape:
                continue
            err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
            WORST[dtype] = max(WORST.get(dtype, 0.0), err)
            check(err <= tol, "%s %s: max abs error %.3e > %.0e" % (name, key, err, tol))


def same_state_dict(a, b):
    if list(a.keys()) != list(b.keys()):
        return False
    return all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def model_group(path):
    """(keys attribute, {name: numpy array}) of a loom checkpoint."""
    with h5py.File(path, "r") as f:
        return f["model"].attrs["keys"], {k: f["model"][k][()] for k in f["model"]}


def same_group(a, b):
    (ka, da), (kb, db) = a, b
    return ka == kb and da.keys() == db.keys() and all(
        da[k].dtype == db[k].dtype and da[k].shape == db[k].shape and da[k].tobytes() == db[k].tobytes()
        for k in da)


def interchange(conv, tool, work):
    for i, (name, mode, ctor, kw, states, L, N) in enumerate(CONFIGS):
        for dtype_name, dtype, tol in DTYPES:
            tag = "%s_%s" % (name, dtype_name)
            cli = i == 0  # the first configuration goes through the command line
            x, h0, c0 = make_input(ctor, kw, states, L, N, dtype, seed=100 + i)
            inp = os.path.join(work, tag + "_in.h5")
            write_input(inp, x, h0, c0)

            # (a) PyTorch -> loom.
            torch.manual_seed(i)
            m = ctor(**kw).to(dtype).eval()
            pt = os.path.join(work, tag + "_torch.pt")
            torch.save(m.state_dict(), pt)
            ck = os.path.join(work, tag + "_from_torch.h5")
            conv.ok(["to-loom", pt, ck], cli)
            out = os.path.join(work, tag + "_loom_out.h5")
            run_tool(tool, tool_args(mode, kw, dtype_name) + ["--load", ck, "--input", inp, "--output", out])
            compare(tag + " (a) torch -> loom", out, torch_forward(m, x, h0, c0), dtype_name, tol)
            back = os.path.join(work, tag + "_back.pt")
            conv.ok(["to-torch", ck, back], cli)
            check(same_state_dict(torch.load(back), m.state_dict()),
                  "%s: to-torch(to-loom(pt)) differs from the state_dict" % tag)

            # (b) loom -> PyTorch.
            ck2 = os.path.join(work, tag + "_loom.h5")
            out2 = os.path.join(work, tag + "_loom_seeded_out.h5")
            run_tool(tool, tool_args(mode, kw, dtype_name) +
                     ["--save", ck2, "--seed", str(7 + i), "--input", inp, "--output", out2])
            pt2 = os.path.join(work, tag + "_from_loom.pt")
            conv.ok(["to-torch", ck2, pt2], cli)
            m2 = ctor(**kw).to(dtype).eval()
            state = torch.load(pt2)
            check(list(state.keys()) == list(m2.state_dict().keys()),
                  "%s: key order %s, PyTorch's %s" % (tag, list(state.keys()), list(m2.state_dict().keys())))
            check(all(v.dtype == dtype for v in state.values()), "%s: dtypes %s" % (tag, {v.dtype for v in state.values()}))
            m2.load_state_dict(state)  # strict
            compare(tag + " (b) loom -> torch", out2, torch_forward(m2, x, h0, c0), dtype_name, tol)
            again = os.path.join(work, tag + "_again.h5")
            conv.ok(["to-loom", pt2, again], cli)
            check(same_group(model_group(again), model_group(ck2)),
                  "%s: to-loom(to-torch(h5)) differs from the checkpoint's model group" % tag)
        print("ok: %s (float64, float32; both directions)" % name)


def half_dtypes(conv, work):
    """float16 and bfloat16 state_dicts both ways, bit for bit: float16 is HDF5's
    IEEE half (numpy.float16 in h5py), bfloat16 its bits as uint16 tagged
    loom_dtype = "bfloat16"."""
    special = [0.0, -0.0, 1.0, -2.5, 1e-7, 65504.0, 1e30, float("inf"), float("-inf"), float("nan")]
    sd = collections.OrderedDict()
    sd["h.weight"] = torch.cat([torch.tensor(special), torch.randn(20)]).to(torch.float16).reshape(5, 6)
    sd["b.weight"] = torch.cat([torch.tensor(special), torch.randn(20)]).to(torch.bfloat16).reshape(6, 5)
    sd["b.scalar"] = torch.tensor(3.140625, dtype=torch.bfloat16)
    sd["b.empty"] = torch.zeros(0, 2, dtype=torch.bfloat16)
    pt = os.path.join(work, "half.pt")
    torch.save(sd, pt)
    h5 = os.path.join(work, "half.h5")
    conv.ok(["to-loom", pt, h5])
    with h5py.File(h5, "r") as f:
        h = f["model/h.weight"]
        check(h.dtype == np.float16 and "loom_dtype" not in h.attrs, "float16 stored as IEEE half: %s" % h.dtype)
        check(np.array_equal(h[()].view(np.uint16), sd["h.weight"].view(torch.int16).numpy().view(np.uint16)),
              "float16 bits")
        b = f["model/b.weight"]
        check(b.dtype == np.uint16 and b.attrs.get("loom_dtype") in ("bfloat16", b"bfloat16"),
              "bfloat16 stored as uint16 + loom_dtype: %s %s" % (b.dtype, dict(b.attrs)))
        check(np.array_equal(b[()], sd["b.weight"].view(torch.int16).numpy().view(np.uint16)), "bfloat16 bits")
        check(f["model/b.scalar"].shape == () and f["model/b.empty"].shape == (0, 2), "bfloat16 0-dim and empty")
    back = os.path.join(work, "half_back.pt")
    conv.ok(["to-torch", h5, back])
    got = torch.load(back)
    same = list(got.keys()) == list(sd.keys()) and all(
        got[k].dtype == sd[k].dtype and got[k].shape == sd[k].shape and
        torch.equal(got[k].view(torch.int16), sd[k].view(torch.int16)) for k in sd)  # bits: NaN included
    check(same, "float16/bfloat16 round trip: %s" % {k: (v.dtype, tuple(v.shape)) for k, v in got.items()})
    print("ok: float16 and bfloat16, both directions, bit for bit")


def other_dtypes_and_keys(conv, work):
    """int64, bool, 0-dim and empty tensors, and --key for a training checkpoint."""
    sd = collections.OrderedDict()
    sd["z.weight"] = torch.randn(3, 2)
    sd["steps"] = torch.tensor(12345678901, dtype=torch.int64)
    sd["mask"] = torch.tensor([True, False, True])
    sd["empty"] = torch.zeros(0, 4, dtype=torch.float64)
    sd["a.bias"] = torch.randn(2, dtype=torch.float64)
    sd["ids"] = torch.tensor([-2147483648, 7, 2147483647], dtype=torch.int32)
    sd["pixels"] = torch.tensor([[0, 255], [128, 7]], dtype=torch.uint8)
    pt = os.path.join(work, "mixed.pt")
    torch.save({"model": sd, "optimizer": {"state": {}}, "epoch": 3}, pt)
    h5 = os.path.join(work, "mixed.h5")
    code, _, err = conv.run(["to-loom", pt, h5])
    check(code == 1 and "entry 'model' is not a tensor but an OrderedDict (for a dict of state_dicts, choose one "
          "with --key model)" in err, "dict of state_dicts without --key: %d %r" % (code, err))
    conv.ok(["to-loom", pt, h5, "--key", "model"])
    with h5py.File(h5, "r") as f:
        # Fixed-length strings (as loom writes them) read back as bytes.
        check(f.attrs["format"] == b"loom-checkpoint" and f.attrs["version"] == 2 and f.attrs["step"] == 0,
              "root attributes %s" % dict(f.attrs))
        # Checksums as loom writes them: Fletcher32 on data, compact scalars, nothing on empties.
        check(f["model/z.weight"].fletcher32 and f["model/mask"].fletcher32 and f["model/a.bias"].fletcher32,
              "Fletcher32 on every dataset with elements")
        check(f["model/steps"].id.get_create_plist().get_layout() == h5py.h5d.COMPACT, "compact scalar")
        import zlib
        check(all(f["model/" + k].attrs["crc32"] == zlib.crc32(np.asarray(f["model/" + k][()]).tobytes())
                  for k in ("z.weight", "steps", "mask", "a.bias")), "crc32 attributes")
        check("crc32" not in f["model/empty"].attrs, "no crc32 on an empty dataset")
        check(f["model"].attrs["keys"] == b"z.weight\nsteps\nmask\nempty\na.bias\nids\npixels", "keys attribute")
        check(f["model/ids"].dtype == np.int32, "int32 stored as int32")
        check(f["model/pixels"].dtype == np.uint8 and f["model/pixels"].attrs["loom_dtype"] == b"uint8",
              "uint8 stored as uint8 tagged loom_dtype = uint8: %s" % dict(f["model/pixels"].attrs))
        check("loom_dtype" not in f["model/mask"].attrs, "bool untagged")
        check(f["model/steps"].dtype == np.int64 and f["model/steps"].shape == (), "int64 scalar")
        check(f["model/mask"].dtype == np.uint8, "bool stored as uint8")
        check(f["model/empty"].shape == (0, 4), "empty tensor shape")
        check(list(f.keys()) == ["model"], "only the model group: %s" % list(f.keys()))
    with open(h5, "rb") as raw:
        check(raw.read(9)[8] == 3, "superblock version 3 (HDF5 1.10 format, checksummed metadata)")
    back = os.path.join(work, "mixed_back.pt")
    conv.ok(["to-torch", h5, back])
    check(same_state_dict(torch.load(back), sd), "mixed dtypes round trip")
    print("ok: int64, int32, uint8, bool, 0-dim and empty tensors; --key")


def refusals(conv, tool, work):
    def expect(args, fragment, cli=False, code=1):
        got, out, err = conv.run(args, cli)
        check(got == code and fragment in err,
              "torch_hdf5.py %s: expected exit %d and %r, got %s: %r" % (" ".join(args), code, fragment, got, err))

    missing = os.path.join(work, "missing.pt")
    expect(["to-loom", missing, os.path.join(work, "x.h5")],
           "torch_hdf5.py: error: '%s': no such file" % missing, cli=True)
    text = os.path.join(work, "text.pt")
    with open(text, "w") as f:
        f.write("not a pickle\n")
    expect(["to-loom", text, os.path.join(work, "x.h5")], "'%s' is not a file torch.load can read: " % text)
    half = os.path.join(work, "half.pt")
    torch.save(torch.nn.LSTM(3, 4).state_dict(), half)
    with open(half, "r+b") as f:
        f.truncate(os.path.getsize(half) // 2)
    expect(["to-loom", half, os.path.join(work, "x.h5")], "'%s' is not a file torch.load can read: " % half)
    i16 = os.path.join(work, "i16.pt")
    torch.save({"w": torch.zeros(2, dtype=torch.int16)}, i16)
    expect(["to-loom", i16, os.path.join(work, "x.h5")],
           "tensor 'w' has dtype torch.int16; loom checkpoints hold float32, float64, float16, bfloat16, "
           "int64, int32, uint8 and bool")
    slash = os.path.join(work, "slash.pt")
    torch.save({"a/b": torch.zeros(2)}, slash)
    expect(["to-loom", slash, os.path.join(work, "x.h5")], "state_dict key 'a/b' cannot be a dataset name")
    tensor_only = os.path.join(work, "tensor.pt")
    torch.save(torch.zeros(2), tensor_only)
    expect(["to-loom", tensor_only, os.path.join(work, "x.h5")],
           "'%s' holds a Tensor, expected a state_dict (a dict of name -> tensor)" % tensor_only)
    expect(["to-loom", half, os.path.join(work, "no", "such", "x.h5")], "is not a file torch.load can read")
    good = os.path.join(work, "good.pt")
    torch.save(torch.nn.GRU(3, 4).state_dict(), good)
    expect(["to-loom", good, os.path.join(work, "no", "x.h5")],
           "cannot write '%s': folder '%s' does not exist" % (os.path.join(work, "no", "x.h5"), os.path.join(work, "no")))

    expect(["to-torch", missing, os.path.join(work, "x.pt")], "'%s': no such file" % missing)
    expect(["to-torch", text, os.path.join(work, "x.pt")], "'%s' is not an HDF5 file" % text)
    foreign = os.path.join(work, "foreign.h5")
    with h5py.File(foreign, "w") as f:
        f["input"] = np.zeros(3)
    expect(["to-torch", foreign, os.path.join(work, "x.pt")],
           "'%s' is not a loom checkpoint: the root group has no 'format' attribute" % foreign, cli=True)
    with h5py.File(foreign, "a") as f:
        f.attrs["format"] = "keras"
    expect(["to-torch", foreign, os.path.join(work, "x.pt")],
           "its format attribute is \"keras\", expected \"loom-checkpoint\"")
    with h5py.File(foreign, "a") as f:
        f.attrs["format"] = "loom-checkpoint"
        f.attrs["version"] = np.int64(3)
    expect(["to-torch", foreign, os.path.join(work, "x.pt")],
           "checkpoint version 3 is not supported (this tool reads versions 1 and 2)")
    good_h5 = os.path.join(work, "good.h5")
    conv.ok(["to-loom", good, good_h5])
    bad_tag = os.path.join(work, "bad_tag.h5")
    conv.ok(["to-loom", good, bad_tag])
    with h5py.File(bad_tag, "a") as f:
        f["model/weight_ih_l0"].attrs["loom_dtype"] = "bfloat16"  # on a float32 dataset
    expect(["to-torch", bad_tag, os.path.join(work, "x.pt")],
           "dataset 'model/weight_ih_l0' has loom_dtype = \"bfloat16\" on a float32 dataset")
    cut = os.path.join(work, "cut.h5")
    shutil.copy(good_h5, cut)
    with open(cut, "r+b") as f:
        f.truncate(os.path.getsize(cut) // 2)
    expect(["to-torch", cut, os.path.join(work, "x.pt")], "'%s' is truncated or damaged" % cut)
    expect(["frobnicate", good, good_h5], "invalid choice: 'frobnicate'", code=2)
    code, out, _ = conv.run(["--help"], cli=True)
    check(code == 0 and "to-loom" in out and "to-torch" in out, "--help: %d %r" % (code, out))

    # loom refuses a converted checkpoint that does not fit the module it builds.
    p = subprocess.run([tool, "--mode", "lstm", "--input-size", "3", "--hidden-size", "4", "--load", good_h5,
                        "--input", os.path.join(work, "unused.h5"), "--output", os.path.join(work, "unused_out.h5")],
                       capture_output=True, text=True)
    check(p.returncode == 1 and ("cannot restore the model from checkpoint '%s': Error(s) in loading state_dict "
          % good_h5) + "for LSTM:\n\tsize mismatch for weight_ih_l0: copying a param with shape torch.Size([12, 3]) from "
          "checkpoint, the shape in current model is torch.Size([16, 3])." in p.stderr,
          "loom tool with a GRU checkpoint for an LSTM: %d %r" % (p.returncode, p.stderr))
    p = subprocess.run([tool, "--mode", "lstm", "--input-size", "3", "--hidden-size", "4", "--load", foreign,
                        "--input", "x", "--output", "y"], capture_output=True, text=True)
    check(p.returncode == 1 and "cannot load checkpoint '%s': checkpoint version 3 is not supported" % foreign
          in p.stderr, "loom tool with a version-3 file: %d %r" % (p.returncode, p.stderr))
    # A bit flipped inside a tensor's data (found through its chunk's file offset) is refused by
    # both readers, by its checksum.
    flipped = os.path.join(work, "flipped.h5")
    shutil.copy(good_h5, flipped)
    with h5py.File(flipped, "r") as f:
        info = f["model/weight_hh_l0"].id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(flipped, "r+b") as f:
        f.seek(offset + size // 2)
        byte = f.read(1)[0]
        f.seek(offset + size // 2)
        f.write(bytes([byte ^ 0x10]))
    expect(["to-torch", flipped, os.path.join(work, "x.pt")],
           "cannot read dataset 'model/weight_hh_l0' (checksum mismatch: the file is damaged)")
    p = subprocess.run([tool, "--mode", "gru", "--input-size", "3", "--hidden-size", "4", "--load", flipped,
                        "--input", "x", "--output", "y"], capture_output=True, text=True)
    check(p.returncode == 1 and "cannot load checkpoint '%s': checksum mismatch in dataset 'model/weight_hh_l0'"
          % flipped in p.stderr, "loom tool with a flipped bit: %d %r" % (p.returncode, p.stderr))
    print("ok: refusals")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True, help="loom-checkpoint-forward")
    parser.add_argument("--script", required=True, help="tools/torch_hdf5.py")
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    torch.set_num_threads(1)
    conv = Converter(args.script)
    interchange(conv, args.tool, args.workdir)
    other_dtypes_and_keys(conv, args.workdir)
    half_dtypes(conv, args.workdir)
    refusals(conv, args.tool, args.workdir)
    for dtype, err in sorted(WORST.items()):
        print("worst |loom - PyTorch| in %s: %.3e" % (dtype, err))
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Convert a PyTorch state_dict (.pt) to a loom checkpoint (.h5) and back.

  torch_hdf5.py to-loom  MODEL.pt  CHECKPOINT.h5 [--key NAME]
  torch_hdf5.py to-torch CHECKPOINT.h5 MODEL.pt

to-loom reads what torch.save wrote: a state_dict (an OrderedDict of name ->
tensor, e.g. nn.LSTM(...).state_dict()), a whole nn.Module (its state_dict is
taken), or with --key a dict holding a state_dict under that key (e.g. a
training checkpoint {"model": ..., "optimizer": ...}). It writes a loom
checkpoint (nn/checkpoint.h, version 2) with the model group only and step 0:
the same names, in the same order, dtypes and shapes, values bit for bit.
Like loom's own files it carries checksums: the HDF5 1.10 file format
(metadata checksums), Fletcher32 on every dataset with elements (chunked),
scalars in compact layout inside their checksummed object headers, and on
every dataset with elements an int64 attribute crc32 = zlib.crc32 of its
stored little-endian bytes.

to-torch reads a loom checkpoint's model group (version 2, or 1 from before
checksums) and torch.saves it as an OrderedDict in the saved key order, ready
for module.load_state_dict(). HDF5 verifies the Fletcher32 and metadata
checksums as it reads, this tool the crc32 attributes: a damaged file is
refused.
Optimizer, schedule and metadata groups are not converted (a note says so).

Tensors may be float32, float64, float16, bfloat16, int64, int32, uint8 or
bool (uint8 stored as uint8 with the attribute loom_dtype = "uint8": an
untagged uint8 dataset is a bool, as loom writes bools). float16 is
stored as HDF5's IEEE half (h5py reads it as numpy.float16); bfloat16, which
has no HDF5 or numpy type, as its raw bits in uint16 with the dataset
attribute loom_dtype = "bfloat16" (as loom writes it). Needs torch and h5py
(Debian: python3-torch, python3-h5py). Exit status 0 on success, 1 when the
input is refused (the message says why), 2 on bad usage.
"""

import argparse
import collections
import os
import sys
import zlib

FORMAT = "loom-checkpoint"
VERSION = 2                # what to-loom writes
READABLE_VERSIONS = (1, 2)  # what to-torch reads (1: before checksums)
CHUNK_BYTES = 4 << 20       # as core/hdf5_file.cc: a tensor up to 4 MiB is one chunk


class Refused(Exception):
    """Input that cannot be converted; the message says why."""


def _imports():
    try:
        import h5py
        import numpy
        import torch
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise Refused("needs torch and h5py (Debian: python3-torch python3-h5py): %s" % e)
    return h5py, numpy, torch


HOLDS = "float32, float64, float16, bfloat16, int64, int32, uint8 and bool"
DTYPE_ATTR = "loom_dtype"  # "bfloat16" on uint16 holding bfloat16 bits; "uint8" on a uint8 tensor


def _torch_to_numpy(torch, numpy, name, tensor):
    """A C-order numpy copy of `tensor` in the dtype loom stores (bfloat16:
    its bits as uint16)."""
    if tensor.layout != torch.strided:
        raise Refused("tensor '%s' has layout %s; only dense tensors can be converted" % (name, tensor.layout))
    if tensor.is_quantized or tensor.is_complex():
        raise Refused("tensor '%s' has dtype %s; loom checkpoints hold %s" % (name, tensor.dtype, HOLDS))
    stored = {torch.float32: "<f4", torch.float64: "<f8", torch.float16: "<f2", torch.int64: "<i8",
              torch.bool: "u1", torch.bfloat16: "<u2", torch.int32: "<i4", torch.uint8: "u1"}
    if tensor.dtype not in stored:
        raise Refused("tensor '%s' has dtype %s; loom checkpoints hold %s" % (name, tensor.dtype, HOLDS))
    dtype = tensor.dtype
    tensor = tensor.detach().cpu().contiguous()
    if dtype == torch.bfloat16:  # numpy has no bfloat16: keep the bits
        return numpy.array(tensor.view(torch.int16).numpy().view(numpy.uint16), dtype=stored[dtype],
                           order="C", copy=True)
    array = tensor.numpy()
    # numpy.array keeps a 0-dim shape (ascontiguousarray would make it [1]).
    return numpy.array(array, dtype=stored[dtype], order="C", copy=True)


def _write_dataset(h5py, numpy, group, name, array):
    """`array` (little-endian, C order) as dataset `name` of `group`, protected as loom protects it."""
    if array.ndim == 0:
        # Compact layout: create_dataset drops a scalar's dcpl, so the low-level API.
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dsid = h5py.h5d.create(group.id, name.encode("utf-8"), h5py.h5t.py_create(array.dtype),
                               h5py.h5s.create(h5py.h5s.SCALAR), dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, numpy.ascontiguousarray(array))
        ds = group[name]
    elif array.size == 0:
        ds = group.create_dataset(name, data=array)
    else:
        chunks = array.shape if array.nbytes <= CHUNK_BYTES else True
        ds = group.create_dataset(name, data=array, chunks=chunks, fletcher32=True)
    if array.size > 0:
        ds.attrs["crc32"] = numpy.int64(zlib.crc32(array.tobytes()))


def _create_compact_group(h5py, parent, name):
    """Group `name` of `parent` keeping all its links (up to 65535) inside its
    checksummed object header, as loom's writer does (core/hdf5_file.cc): past
    8 links HDF5 would move them to a fractal heap, and libhdf5 1.10 frees
    invalid pointers when it decodes a damaged one. h5py has no
    set_link_phase_change, so it is called in the libhdf5 h5py loaded."""
    import ctypes
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps
                        if "libhdf5" in line and "_hl" not in line and line.split()[-1].startswith("/")})
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    if len(paths) != 1:
        raise Refused("cannot find the HDF5 library h5py uses (found %s)" % (paths or "none"))
    set_phase = ctypes.CDLL(paths[0]).H5Pset_link_phase_change
    set_phase.argtypes = [ctypes.c_int64, ctypes.c_uint, ctypes.c_uint]
    set_phase.restype = ctypes.c_int
    if set_phase(gcpl.id, 65535, 65535) < 0:
        raise Refused("cannot keep the links of group '%s' compact" % name)
    h5py.h5g.create(parent.id, name.encode("utf-8"), gcpl=gcpl)
    return parent[name]


def _check_key(name):
    if not isinstance(name, str):
        raise Refused("state_dict key %r is not a string" % (name,))
    if name in ("", ".", "..") or "/" in name or "\n" in name:
        raise Refused("state_dict key %r cannot be a dataset name in a loom checkpoint "
                      "(empty, '.', '..', or containing '/' or a newline)" % name)


def _state_dict_from(obj, key, torch, path):
    """The ordered (name, tensor) pairs held by what torch.load returned."""
    if key is not None:
        if not isinstance(obj, dict):
            raise Refused("'%s' holds a %s, not a dict, so --key %s does not apply"
                          % (path, type(obj).__name__, key))
        if key not in obj:
            raise Refused("'%s' has no key %r (its keys: %s)"
                          % (path, key, ", ".join(repr(k) for k in obj.keys())))
        obj = obj[key]
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise Refused("'%s' holds a %s, expected a state_dict (a dict of name -> tensor)"
                      % (path, type(obj).__name__))
    if not obj:
        raise Refused("'%s' holds an empty dict, expected a state_dict" % path)
    items = list(obj.items())
    for name, value in items:
        if not isinstance(value, torch.Tensor):
            hint = ""
            if isinstance(value, dict):
                hint = " (for a dict of state_dicts, choose one with --key %s)" % name
            kind = type(value).__name__
            raise Refused("'%s': entry %r is not a tensor but %s %s%s"
                          % (path, name, "an" if kind[:1] in "AEIOUaeiou" else "a", kind, hint))
        _check_key(name)
    return items


def to_loom(src, dst, key=None):
    """Converts the state_dict in `src` (.pt) to the loom checkpoint `dst`."""
    h5py, numpy, torch = _imports()
    if not os.path.isfile(src):
        raise Refused("'%s': no such file" % src)
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a foreign file
        raise Refused("'%s' is not a file torch.load can read: %s: %s" % (src, type(e).__name__, e))
    items = _state_dict_from(obj, key, torch, src)
    arrays = [(name, _torch_to_numpy(torch, numpy, name, t)) for name, t in items]
    bfloat16_names = {name for name, t in items if t.dtype == torch.bfloat16}
    uint8_names = {name for name, t in items if t.dtype == torch.uint8}

    # Write beside the target and rename, as loom does.
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise Refused("cannot write '%s': folder '%s' does not exist" % (dst, folder))
    tmp = os.path.join(folder, ".%s.tmp-%d" % (os.path.basename(dst), os.getpid()))
    try:
        # As loom writes (core/hdf5_file.h): the HDF5 1.10 format, whose metadata
        # carries checksums, and fixed-length strings, which live in the
        # checksummed object header rather than the unchecksummed global heap.
        with h5py.File(tmp, "w", libver=("v110", "v110")) as f:
            f.attrs["format"] = numpy.bytes_(FORMAT.encode("utf-8"))
            f.attrs["version"] = numpy.int64(VERSION)
            f.attrs["step"] = numpy.int64(0)
            model = _create_compact_group(h5py, f, "model")
            model.attrs["keys"] = numpy.bytes_("\n".join(name for name, _ in arrays).encode("utf-8"))
            for name, array in arrays:
                _write_dataset(h5py, numpy, model, name, array)
                if name in bfloat16_names:
                    model[name].attrs[DTYPE_ATTR] = numpy.bytes_(b"bfloat16")
                if name in uint8_names:  # an untagged uint8 dataset is a bool to loom
                    model[name].attrs[DTYPE_ATTR] = numpy.bytes_(b"uint8")
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return [name for name, _ in arrays]


def _read_attr(obj, name, path, kind):
    """Attribute `name` of `obj` as `kind` (str or int); None when absent."""
    if name not in obj.attrs:
        return None
    value = obj.attrs[name]
    if kind is str:
        if isinstance(value, bytes):  # numpy.bytes_: a fixed-length string, what loom writes
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused("'%s': attribute '%s' of %s is not UTF-8 text" % (path, name, obj.name))
        if not isinstance(value, str):
            raise Refused("'%s': attribute '%s' of %s is %r, expected a string"
                          % (path, name, obj.name, value))
        return value
    import numpy
    if isinstance(value, numpy.ndarray) and value.shape == (1,):
        value = value[0]
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
        raise Refused("'%s': attribute '%s' of %s is %r, expected an integer" % (path, name, obj.name, value))
    return int(value)


def _check_stored(dataset, path, name):
    """Refuses a dataset whose data is not all in the file: a damaged or hostile
    file can declare a huge shape and store nothing, and reading it would
    allocate the whole array and walk every missing chunk."""
    nbytes = dataset.dtype.itemsize
    for n in dataset.shape:  # Python integers: no overflow
        nbytes *= int(n)
    if nbytes == 0:
        return
    if nbytes > 2**62:
        raise Refused("'%s': dataset 'model/%s' declares shape %s, too large to be a tensor"
                      % (path, name, dataset.shape))
    if dataset.chunks is not None:
        chunks = 1
        for n, c in zip(dataset.shape, dataset.chunks):
            chunks *= -(-n // c)
        stored = dataset.id.get_num_chunks()
        if stored < chunks:
            raise Refused("'%s': dataset 'model/%s' is incomplete: %d of its %d chunks are stored"
                          % (path, name, stored, chunks))
    elif dataset.id.get_storage_size() < nbytes:
        raise Refused("'%s': dataset 'model/%s' stores %d bytes, its shape and type need %d "
                      "(damaged or never written)" % (path, name, dataset.id.get_storage_size(), nbytes))


def _read_model(h5py, numpy, torch, f, src):
    """(state_dict, names of other non-empty groups) of the open checkpoint `f`."""
    fmt = _read_attr(f, "format", src, str)
    if fmt is None:
        raise Refused("'%s' is not a loom checkpoint: the root group has no 'format' attribute "
                      "(expected format = \"%s\")" % (src, FORMAT))
    if fmt != FORMAT:
        raise Refused("'%s' is not a loom checkpoint: its format attribute is \"%s\", expected \"%s\""
                      % (src, fmt, FORMAT))
    version = _read_attr(f, "version", src, int)
    if version is None or version not in READABLE_VERSIONS:
        raise Refused("'%s': checkpoint version %s is not supported (this tool reads versions %s)"
                      % (src, version, " and ".join(str(v) for v in READABLE_VERSIONS)))
    if "model" not in f or not isinstance(f["model"], h5py.Group):
        raise Refused("'%s' has no group 'model'" % src)
    model = f["model"]
    keys_attr = _read_attr(model, "keys", src, str)
    if keys_attr is None:
        raise Refused("'%s': group 'model' has no 'keys' attribute (the state_dict's key order)" % src)
    keys = keys_attr.split("\n") if keys_attr else []
    stored = set(model.keys())
    for name in keys:
        if name not in stored or not isinstance(model[name], h5py.Dataset):
            raise Refused("'%s': key '%s' is listed in the 'keys' attribute of group 'model', "
                          "but there is no dataset 'model/%s'" % (src, name, name))
    if len(set(keys)) != len(keys):
        raise Refused("'%s': a key appears twice in the 'keys' attribute of group 'model'" % src)
    extra = sorted(stored - set(keys))
    if extra:
        raise Refused("'%s': dataset 'model/%s' is not listed in the 'keys' attribute of group "
                      "'model'" % (src, extra[0]))
    state = collections.OrderedDict()
    for name in keys:
        dataset = model[name]
        _check_stored(dataset, src, name)
        try:
            array = numpy.array(dataset[()])  # a writable copy, also of a 0-dim dataset
        except OSError as e:
            # A Fletcher32 mismatch reads "data error detected by Fletcher32 checksum".
            why = " (checksum mismatch: the file is damaged)" if "checksum" in str(e) else ""
            raise Refused("'%s': cannot read dataset 'model/%s'%s: %s" % (src, name, why, e))
        recorded = _read_attr(dataset, "crc32", src, int)
        if recorded is not None and array.size > 0 and zlib.crc32(array.tobytes()) != recorded:
            raise Refused("'%s': checksum mismatch in dataset 'model/%s': the file is damaged "
                          "(the values' CRC-32 differs from its crc32 attribute)" % (src, name))
        kind = array.dtype.kind, array.dtype.itemsize
        tag = _read_attr(dataset, DTYPE_ATTR, src, str)
        if tag is not None and (tag, kind) not in (("bfloat16", ("u", 2)), ("uint8", ("u", 1))):
            raise Refused("'%s': dataset 'model/%s' has %s = \"%s\" on a %s dataset; loom writes "
                          "only \"bfloat16\", on uint16, and \"uint8\", on uint8"
                          % (src, name, DTYPE_ATTR, tag, array.dtype))
        if tag == "uint8":
            tensor = torch.from_numpy(array)
        elif tag == "bfloat16":
            bits = array.astype(numpy.dtype("<u2").newbyteorder("="), copy=False).view(numpy.int16)
            tensor = torch.from_numpy(bits).view(torch.bfloat16)
        elif kind == ("u", 1) or kind == ("b", 1):
            tensor = torch.from_numpy(array.astype(numpy.bool_))
        elif kind in (("f", 2), ("f", 4), ("f", 8), ("i", 8), ("i", 4)):
            tensor = torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=False))
        else:
            raise Refused("'%s': dataset 'model/%s' holds %s; loom checkpoints hold %s"
                          % (src, name, array.dtype, HOLDS))
        state[name] = tensor.clone()
    others = [g for g in ("optimizer", "scheduler", "grad_scaler", "metadata")
              if g in f and isinstance(f[g], h5py.Group) and len(f[g]) > 0]
    return state, others


def to_torch(src, dst):
    """Converts the model group of the loom checkpoint `src` to a state_dict .pt."""
    h5py, numpy, torch = _imports()
    if not os.path.isfile(src):
        raise Refused("'%s': no such file" % src)
    if not h5py.is_hdf5(src):
        raise Refused("'%s' is not an HDF5 file" % src)
    try:
        with h5py.File(src, "r") as f:
            state, others = _read_model(h5py, numpy, torch, f, src)
    except Refused:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError, MemoryError) as e:
        # What h5py raises for damaged metadata ("bad object header version
        # number", "bad symbol table node signature", a failed checksum, ...).
        raise Refused("'%s' is truncated or damaged: %s: %s" % (src, type(e).__name__, e))
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise Refused("cannot write '%s': folder '%s' does not exist" % (dst, folder))
    tmp = os.path.join(folder, ".%s.tmp-%d" % (os.path.basename(dst), os.getpid()))
    try:
        torch.save(state, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return list(state.keys()), others


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="torch_hdf5.py",
        description="Convert a PyTorch state_dict (.pt, from torch.save) to a loom checkpoint "
                    "(HDF5, model group only, step 0) and back.",
        epilog="Exit status: 0 converted, 1 input refused (the message says why), 2 bad usage.")
    sub = parser.add_subparsers(dest="command", metavar="{to-loom,to-torch}")
    sub.required = True
    p = sub.add_parser("to-loom", help="state_dict .pt -> loom checkpoint .h5",
                       description="Convert a torch.save'd state_dict (or module) to a loom checkpoint.")
    p.add_argument("input", help="file written by torch.save: a state_dict, a module, or a dict (see --key)")
    p.add_argument("output", help="loom checkpoint to write (HDF5)")
    p.add_argument("--key", help="take the state_dict stored under this key of a dict (e.g. 'model')")
    p = sub.add_parser("to-torch", help="loom checkpoint .h5 -> state_dict .pt",
                       description="Convert a loom checkpoint's model group to a state_dict for torch.load.")
    p.add_argument("input", help="loom checkpoint (HDF5)")
    p.add_argument("output", help="file to torch.save the state_dict (an OrderedDict) to")
    args = parser.parse_args(argv)
    try:
        if args.command == "to-loom":
            names = to_loom(args.input, args.output, args.key)
            print("wrote %d tensors to %s" % (len(names), args.output))
        else:
            names, others = to_torch(args.input, args.output)
            print("wrote %d tensors to %s" % (len(names), args.output))
            if others:
                print("note: not converted: the %s group(s) of %s (only the model's state_dict is)"
                      % (", ".join(others), args.input))
    except Refused as e:
        message = " ".join(str(e).split("\n"))
        if args.input not in message:  # e.g. a tensor's dtype: say which file holds it
            message = "'%s': %s" % (args.input, message)
        print("torch_hdf5.py: error: %s" % message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

// Seeded mutations of HDF5 files for loom-fuzz-readers.
//
// A mutation is a pure function of (seed file, 64-bit key): the same key gives
// the same damaged file, so that a failure replays from its seed and index.
//
// Byte-level kinds (on the file's bytes): bit flips, byte overwrites with
// random or boundary values, zeroed or overwritten blocks, truncation, inserted
// or deleted bytes; half of them aim near HDF5 metadata signatures (TREE, HEAP,
// SNOD, OHDR, ...), where damage is most interesting.
//
// Structured kinds (through the HDF5 C API on a copy of the seed): a dataset
// replaced by one of another type (int32, uint64, big-endian, strings,
// compound, array, opaque, enum, reference), another shape or rank, huge
// dimensions (2^31 .. 2^63, products overflowing 64 bits; chunked, so nothing
// is stored), an empty or null dataspace; NaN/inf/extreme values written into
// a dataset; attributes deleted, retyped (int/float/string/array/null) or
// given boundary values; datasets or groups deleted, added, swapped for each
// other; soft, hard (cyclic) and external links.
#pragma once

#include <cstdint>
#include <string>

namespace loom::fuzz {

// Writes the mutation `key` of `seed_file` to `out_path` (overwriting it) and
// returns a one-line description ("bit flips at 1234 (x3)", "dataset
// 'model/lstm.weight_ih_l0' -> dtype uint64", ...). Throws loom::Error only
// when the seed itself cannot be read or `out_path` cannot be written.
std::string mutate(const std::string& seed_file, const std::string& out_path, std::uint64_t key);

// Reads what `seed_file` holds (its groups, datasets and attributes) once, so
// that processes forked afterwards mutate it without reading it again.
// mutate() does the same on first use of a seed.
void prepare_seed(const std::string& seed_file);

// The 64-bit key of input `index` of a run with seed `seed` for reader
// `reader_tag` (splitmix64 of the three), so every input is independent.
std::uint64_t mutation_key(std::uint64_t seed, std::uint64_t reader_tag, std::uint64_t index);

}  // namespace loom::fuzz

# Bounded fuzzing of the file readers (label "fuzz"; README "Fuzzed readers").
#
#   fuzz_readers      loom-fuzz-readers: 10,000 mutated inputs (checkpoint 4000,
#                     tensor file 3000, reference case 3000) from seed 1; each must
#                     load or be refused with a loom::Error naming the file
#   fuzz_torch_hdf5   tools/fuzz_torch_hdf5.py: 400 damaged loom checkpoints
#                     (to-torch) and 200 damaged torch.save files (to-loom); each
#                     must convert or fail with one error line naming the file.
#                     Skipped (exit 77) without torch and h5py.
#
# Work folders (with the seeds and any failing input under failures/) are in
# the build tree.
if(TARGET loom-fuzz-readers)
  add_test(NAME fuzz_readers
    COMMAND loom-fuzz-readers --reader checkpoint=4000 --reader tensors=3000
            --reader reference=3000 --seed 1 --leak-check-every 50
            --work ${PROJECT_BINARY_DIR}/fuzz_readers)
  set_tests_properties(fuzz_readers PROPERTIES LABELS "fuzz" TIMEOUT 1200)
endif()

if(NOT LOOM_TORCH_PYTHON)
  set(LOOM_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH
      "Python with PyTorch and h5py (Debian's python3-torch, python3-h5py)")
endif()
add_test(NAME fuzz_torch_hdf5
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tools/fuzz_torch_hdf5.py
          --to-torch 400 --to-loom 200 --seed 1 --work ${PROJECT_BINARY_DIR}/fuzz_torch_hdf5)
set_tests_properties(fuzz_torch_hdf5 PROPERTIES LABELS "fuzz;python" TIMEOUT 1200 SKIP_RETURN_CODE 77)

# Issue 9 item 5's experiment (tools/checkpoint_damage.py): 60 copies of a
# tiny char-lstm checkpoint damaged as a user might (bit flips, zeroed and
# overwritten blocks inside tensor data and anywhere in the file, deleted
# optimizer / schedule entries, seed 1), each resumed with --resume. Passes
# when none loads silently (loading is fine only where h5py reads back the
# exact original content), none crashes and every refusal names the file.
# Skipped (exit 77) when the Python below lacks h5py.
if(TARGET char-lstm)
  if(NOT LOOM_TORCH_PYTHON)
    set(LOOM_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH
        "Python with PyTorch and h5py (Debian's python3-torch, python3-h5py)")
  endif()
  add_test(NAME checkpoint_damage
    COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tools/checkpoint_damage.py
            --char-lstm $<TARGET_FILE:char-lstm>
            --data ${PROJECT_SOURCE_DIR}/examples/data/kjv_genesis_exodus.txt
            --workdir ${PROJECT_BINARY_DIR}/checkpoint_damage --count 60 --seed 1)
  set_tests_properties(checkpoint_damage PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT 300
    PASS_REGULAR_EXPRESSION "checkpoint damage test passed"
    FAIL_REGULAR_EXPRESSION "checkpoint damage test FAILED"
    LABELS "python")
endif()

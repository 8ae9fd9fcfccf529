# PyTorch <-> loom checkpoint interchange (tools/torch_hdf5.py): PyTorch's
# RNN/LSTM/GRU state_dicts converted to loom checkpoints run in
# loom-checkpoint-forward with PyTorch's outputs, and loom's checkpoints
# converted back run in PyTorch with loom's outputs (float64 1e-12, float32
# 1e-5), plus round trips and refusals. Skipped (exit 77) when the Python
# below lacks torch or h5py.
if(TARGET loom-checkpoint-forward)
  if(NOT LOOM_TORCH_PYTHON)
    set(LOOM_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH
        "Python with PyTorch and h5py (Debian's python3-torch, python3-h5py)")
  endif()
  add_test(NAME torch_hdf5_interchange
    COMMAND ${LOOM_TORCH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/torch_hdf5_test.py
            --tool $<TARGET_FILE:loom-checkpoint-forward>
            --script ${PROJECT_SOURCE_DIR}/tools/torch_hdf5.py
            --workdir ${PROJECT_BINARY_DIR}/torch_hdf5_test)
  set_tests_properties(torch_hdf5_interchange PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT 300
    LABELS "python;reference")
endif()

# PyTorch reference cases for RNN/LSTM/GRU (tests/fixtures/README.md).
#
#   rnn_cases_generate   writes ${LOOM_RNN_CASES_DIR}/*.h5 with PyTorch
#                        (FIXTURES_SETUP rnn_cases)
#   rnn_cases_selfcheck  re-derives every generated case, and the shared
#                        samples in ../shared/fixtures when present, with
#                        PyTorch alone (FIXTURES_REQUIRED rnn_cases)
#
# A test that reads the cases declares
#   set_tests_properties(<name> PROPERTIES FIXTURES_REQUIRED rnn_cases)
# and takes the folder from LOOM_RNN_CASES_DIR. Both tests report "skipped"
# (exit code 77) when the Python below cannot import torch and h5py.
set(LOOM_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python with PyTorch and h5py (Debian's python3-torch, python3-h5py)")
# Where the cases are written and read; the sanitizer build (make test-sanitize)
# points it at the normal build's cases instead of generating them again.
set(LOOM_RNN_CASES_DIR ${PROJECT_BINARY_DIR}/rnn_cases CACHE PATH
    "Folder of the generated PyTorch reference cases (written by rnn_cases_generate)")

add_test(NAME rnn_cases_generate
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/make_rnn_cases.py
          ${LOOM_RNN_CASES_DIR} --clean)
set_tests_properties(rnn_cases_generate PROPERTIES
  FIXTURES_SETUP rnn_cases
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  LABELS "python;reference")

set(_loom_rnn_check_dirs ${LOOM_RNN_CASES_DIR})
if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/../shared/fixtures)
  list(APPEND _loom_rnn_check_dirs ${PROJECT_SOURCE_DIR}/../shared/fixtures)
endif()
add_test(NAME rnn_cases_selfcheck
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/check_cases.py
          ${_loom_rnn_check_dirs})
set_tests_properties(rnn_cases_selfcheck PROPERTIES
  FIXTURES_REQUIRED rnn_cases
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  LABELS "python;reference")
unset(_loom_rnn_check_dirs)

# The committed variant reference cases (tests/data/variants/, layout
# docs/variant-cases.md) are what tests/fixtures/make_variant_cases.py writes:
# regenerated with PyTorch and compared bit for bit (exit 77, "skipped", when
# the Python below cannot import torch and h5py). The generator also checks its
# Python cells against torch.nn.LSTM/GRU before comparing.
# tests/nn/research_cells_test.cc runs the cases against loom's cells.
add_test(NAME variant_cases_reproduce
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/make_variant_cases.py
          --compare ${PROJECT_SOURCE_DIR}/tests/data/variants)
set_tests_properties(variant_cases_reproduce PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 120
  LABELS "python;reference")

# The PyTorch side of the layer-norm benchmark (bench/torch_layer_norm_rnn.py,
# compared with loom-bench --layer-norm 1) is the reference cells' layer:
# outputs equal to 1e-12 in float64 (exit 77, "skipped", without torch).
add_test(NAME bench_layer_norm_twin_is_reference
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/bench/check_torch_layer_norm_rnn.py)
set_tests_properties(bench_layer_norm_twin_is_reference PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 60
  LABELS "python;reference")

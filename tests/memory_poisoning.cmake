# Memory poisoning (core/allocator.h, LOOM_POISON_MEMORY=1): every block the
# allocators hand out starts as 0xFF bytes (NaN), so a kernel that reads memory
# before writing it gives NaN or other bits instead of, often, the right
# values left by an earlier identical computation.
#   loom_tests_poisoned              all of loom_tests with every block poisoned
#                                    (on the CPU the CUDA tests skip; on a GPU
#                                    they run poisoned too), except BigShapes.*
#                                    (8 GiB of untouched address space that the
#                                    fill would touch) and OutOfMemory.* (huge
#                                    requests). Label "poison".
#   memory_poisoning_bad_environment LOOM_POISON_MEMORY=yes is refused with
#                                    loom::Error naming the variable.
add_test(NAME loom_tests_poisoned
  COMMAND $<TARGET_FILE:loom_tests> --gtest_brief=1 "--gtest_filter=-BigShapes.*:OutOfMemory.*")
set_tests_properties(loom_tests_poisoned PROPERTIES
  ENVIRONMENT "LOOM_POISON_MEMORY=1;LOOM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  LABELS "poison"
  TIMEOUT 900)
add_test(NAME memory_poisoning_bad_environment
  COMMAND $<TARGET_FILE:loom_tests> "--gtest_filter=MemoryPoisoning.NewAndReusedHostBlocksAreNaN")
set_tests_properties(memory_poisoning_bad_environment PROPERTIES
  ENVIRONMENT "LOOM_POISON_MEMORY=yes"
  PASS_REGULAR_EXPRESSION "LOOM_POISON_MEMORY must be 1 \\(poison every new block\\) or 0 \\(off\\), got \"yes\""
  TIMEOUT 60)

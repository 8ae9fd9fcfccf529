# examples/word_lm: seconds with a tiny model on a slice of the text (three
# epochs, the switch to ASGD, the test perplexity against the unigram
# baseline, the loss CSV, bad options, --help); see word_lm_smoke.sh.
if(TARGET word-lm)
  add_test(NAME word_lm_smoke
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/word_lm_smoke.sh $<TARGET_FILE:word-lm>
            ${PROJECT_SOURCE_DIR}/examples/data/kjv_genesis_exodus.txt ${PROJECT_BINARY_DIR}/word_lm_smoke)
  set_tests_properties(word_lm_smoke PROPERTIES
    PASS_REGULAR_EXPRESSION "word_lm smoke test passed" FAIL_REGULAR_EXPRESSION "FAIL: " TIMEOUT 120)
endif()

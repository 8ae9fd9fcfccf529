# examples/char_lstm: a few seconds with a tiny model on a slice of the text
# (train, checkpoint, stop, --resume to the same losses, bad options, --help);
# see char_lstm_smoke.sh.
if(TARGET char-lstm)
  add_test(NAME char_lstm_smoke
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/char_lstm_smoke.sh $<TARGET_FILE:char-lstm>
            ${PROJECT_SOURCE_DIR}/examples/data/kjv_genesis_exodus.txt ${PROJECT_BINARY_DIR}/char_lstm_smoke)
  set_tests_properties(char_lstm_smoke PROPERTIES
    PASS_REGULAR_EXPRESSION "char_lstm smoke test passed" FAIL_REGULAR_EXPRESSION "FAIL: " TIMEOUT 120)
endif()

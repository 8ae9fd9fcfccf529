# Installs this build of loom into a scratch prefix, then configures, builds and
# runs tests/consumer (and examples/from_libtorch) against it with
# find_package(loom): tests/install_consumer.sh says what it checks.
add_test(NAME install_and_build_consumer
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_consumer.sh ${PROJECT_BINARY_DIR}
          ${PROJECT_BINARY_DIR}/consumer_test ${LOOM_CUDA})
set_tests_properties(install_and_build_consumer PROPERTIES PASS_REGULAR_EXPRESSION "consumer ok" FAIL_REGULAR_EXPRESSION "FAILED" TIMEOUT 600)

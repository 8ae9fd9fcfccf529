# Installs loom into a scratch prefix, then configures, builds and runs
# tests/consumer, a separate project that finds it with find_package(loom).
set(LOOM_CONSUMER_DIR ${PROJECT_BINARY_DIR}/consumer_test)
add_test(NAME install_and_build_consumer
  COMMAND bash -c "set -e
    rm -rf '${LOOM_CONSUMER_DIR}'
    cmake --install '${PROJECT_BINARY_DIR}' --prefix '${LOOM_CONSUMER_DIR}/prefix' > /dev/null
    cmake -S '${CMAKE_CURRENT_SOURCE_DIR}/consumer' -B '${LOOM_CONSUMER_DIR}/build' -G Ninja \
      -DCMAKE_PREFIX_PATH='${LOOM_CONSUMER_DIR}/prefix' -DCMAKE_BUILD_TYPE=Release > /dev/null
    cmake --build '${LOOM_CONSUMER_DIR}/build' > /dev/null
    '${LOOM_CONSUMER_DIR}/build/consumer'")
set_tests_properties(install_and_build_consumer PROPERTIES PASS_REGULAR_EXPRESSION "consumer ok" TIMEOUT 600)

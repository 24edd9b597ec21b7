# The virtual card's APDU harness, for fuzz/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/sim_apdu.cmake)
# Needs the sim (SCB_BUILD_SIM) and the test kit (SCB_BUILD_TESTS) targets,
# and the fuzzing flags on all code (-fsanitize=fuzzer-no-link for coverage).
# Run: fuzz_sim_apdu fuzz/corpus/sim_apdu   (seeds: fuzz/corpus/sim_apdu)
if(TARGET scboot_sim AND TARGET scb_testkit)
  add_executable(fuzz_sim_apdu ${CMAKE_CURRENT_LIST_DIR}/fuzz_sim_apdu.c
    ${CMAKE_SOURCE_DIR}/tests/sim/sim_testhost.c)
  target_include_directories(fuzz_sim_apdu PRIVATE ${CMAKE_SOURCE_DIR}/tests/sim)
  target_link_libraries(fuzz_sim_apdu PRIVATE scboot_sim scb_testkit)
  target_compile_options(fuzz_sim_apdu PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_sim_apdu PRIVATE -fsanitize=fuzzer)
endif()

# The virtual card's APDU harness, for fuzz/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/sim_apdu.cmake)
# Needs the sim (SCB_BUILD_SIM) and the test kit and card rig (SCB_BUILD_TESTS) targets,
# and the fuzzing flags on all code (-fsanitize=fuzzer-no-link for coverage).
# Run: fuzz_sim_apdu fuzz/corpus/sim_apdu   (seeds: fuzz/corpus/sim_apdu)
if(TARGET scboot_sim AND TARGET scb_simrig)
  add_executable(fuzz_sim_apdu ${CMAKE_CURRENT_LIST_DIR}/fuzz_sim_apdu.c)
  target_link_libraries(fuzz_sim_apdu PRIVATE scb_simrig scboot_sim scboot_json scb_testkit)
  target_compile_options(fuzz_sim_apdu PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_sim_apdu PRIVATE -fsanitize=fuzzer)
endif()

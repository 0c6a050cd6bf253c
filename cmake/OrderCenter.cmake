# One helper pair for the whole tree: oc_library() for a module, oc_test() for a test binary.

# oc_library(NAME SOURCES a.cc b.cc DEPS other_lib ...)
function(oc_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# oc_test(NAME SOURCES a_test.cc DEPS lib ... LABELS unit|integration|slow)
function(oc_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "ORDERCENTER_SOURCE_DIR=${PROJECT_SOURCE_DIR};ORDERD_BIN=$<TARGET_FILE:orderd>;ORDERCTL_BIN=$<TARGET_FILE:orderctl>")
endfunction()

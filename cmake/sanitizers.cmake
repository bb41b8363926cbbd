# Sanitized builds, one build folder each (scripts/test): ATERM_SANITIZE is the -fsanitize= list
# every target is compiled and linked with ("address,undefined" or "thread"), and ATERM_FUZZ adds
# libFuzzer's coverage instrumentation to every library so tests/fuzz can build its targets in
# the same folder as the sanitized tests. Any sanitizer report stops the program
# (-fno-sanitize-recover=all), so a report fails the test that ran it.
set(ATERM_SANITIZE "" CACHE STRING "-fsanitize= list for every target (address,undefined or thread)")
option(ATERM_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)

if(ATERM_SANITIZE)
  add_compile_options(-fsanitize=${ATERM_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${ATERM_SANITIZE})
endif()

if(ATERM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ATERM_FUZZ needs clang (libFuzzer): configure with CXX=clang++ CC=clang")
  endif()
  if(NOT ATERM_SANITIZE MATCHES "address")
    message(FATAL_ERROR "ATERM_FUZZ needs -DATERM_SANITIZE=address,undefined")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

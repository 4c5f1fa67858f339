# Checks the rule of ops/simd/vec.h on the built objects: a *_avx2 / *_avx512 object may define
# only local symbols and its kernel tables, no weak / unique symbols (the linker could pick their
# AVX copy for baseline callers) and no static initializers (they would run AVX code at load).
# Usage: cmake -DNM=<nm> -DOBJECTS=<a;b;...> -P check_simd_objects.cmake
set(checked 0)
foreach(obj ${OBJECTS})
  if(NOT obj MATCHES "_avx(2|512|512vnni)\\.cpp\\.o$")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  execute_process(COMMAND ${NM} ${obj} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${obj}")
  endif()
  # Data the compiler adds, not code the linker could swap: AddressSanitizer's one-byte ODR
  # indicator per instrumented global (__odr_asan.<name>) and the exception personality pointer
  # (DW.ref.*, the same pointer in every object). Without this the sanitizer build fails here.
  string(REGEX REPLACE "[^\n]*(__odr_asan\\.|DW\\.ref\\.__gxx_personality_v0)[^\n]*" "" symbols "${symbols}")
  string(REGEX MATCHALL "[^\n]* [WVuB] [^\n]*" shared "${symbols}")
  string(REGEX MATCHALL "[^\n]*_GLOBAL__sub_I[^\n]*" init "${symbols}")
  if(shared OR init)
    message(FATAL_ERROR "${obj} breaks the SIMD linkage rule (ops/simd/vec.h):\n${shared}\n${init}")
  endif()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no SIMD objects found to check")
endif()
message(STATUS "${checked} SIMD objects define no shared symbols and no initializers")

# ONNX Runtime for the ONNX Runtime backend. libtrtmatte dlopens the library at run time, so the
# build needs headers only:
#   onnxruntime_INCLUDE_DIR       -Donnxruntime_ROOT=/path/to/onnxruntime (include/), else the
#                                 vendored API-23 headers in third_party/onnxruntime/include
#   TRTMATTE_ONNXRUNTIME_LIBRARY  a library recorded in libtrtmatte and tried at run time (after
#                                 the TRTMATTE_ONNXRUNTIME_LIBRARY environment variable): only one
#                                 you name, -DTRTMATTE_ONNXRUNTIME_LIBRARY=... or the one in
#                                 onnxruntime_ROOT. Nothing found on this machine is recorded by
#                                 itself, so the library carries no path of the build machine (a
#                                 venv's, say); at run time it falls back to libonnxruntime.so.1 on
#                                 the loader's path, which includes libtrtmatte's own folder
#                                 (RUNPATH $ORIGIN).
#   TRTMATTE_ONNXRUNTIME_FOUND    the onnxruntime wheel of the python3 on PATH, if any: configure
#                                 says how to use it (it is not recorded)
set(onnxruntime_ROOT "" CACHE PATH "ONNX Runtime install (include/, lib/libonnxruntime.so)")
set(_ort_vendored ${PROJECT_SOURCE_DIR}/third_party/onnxruntime/include)

if(onnxruntime_ROOT)
  find_path(onnxruntime_INCLUDE_DIR onnxruntime_cxx_api.h
            HINTS ${onnxruntime_ROOT} PATH_SUFFIXES include include/onnxruntime include/onnxruntime/core/session
            NO_DEFAULT_PATH)
  find_library(_ort_library onnxruntime HINTS ${onnxruntime_ROOT} PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
else()
  set(onnxruntime_INCLUDE_DIR ${_ort_vendored} CACHE PATH "ONNX Runtime C/C++ API headers")
endif()

set(_ort_recorded "")
if(_ort_library)
  set(_ort_recorded ${_ort_library})  # in the onnxruntime_ROOT the caller named
endif()
set(TRTMATTE_ONNXRUNTIME_LIBRARY "${_ort_recorded}" CACHE FILEPATH
    "ONNX Runtime library recorded in libtrtmatte, tried at run time after $TRTMATTE_ONNXRUNTIME_LIBRARY (empty: none; libonnxruntime.so.1 from the loader's path)")

# find_spec, not import: locating the wheel must not load onnxruntime into the configure step.
set(TRTMATTE_ONNXRUNTIME_FOUND "")
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c
      "import importlib.util as u; s = u.find_spec('onnxruntime'); print(s.submodule_search_locations[0] if s else '')"
    OUTPUT_VARIABLE _ort_package OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_ort_package)
    file(GLOB _ort_wheel_library ${_ort_package}/capi/libonnxruntime.so.*)
    list(SORT _ort_wheel_library)
    if(_ort_wheel_library)
      list(GET _ort_wheel_library -1 TRTMATTE_ONNXRUNTIME_FOUND)
    endif()
  endif()
endif()

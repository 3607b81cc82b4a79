# ONNX Runtime for the ONNX Runtime backend. libtrtmatte dlopens the library at run time, so the
# build needs headers only:
#   onnxruntime_INCLUDE_DIR       -Donnxruntime_ROOT=/path/to/onnxruntime (include/), else the
#                                 vendored API-23 headers in third_party/onnxruntime/include
#   TRTMATTE_ONNXRUNTIME_LIBRARY  the library tried first at run time (after the
#                                 TRTMATTE_ONNXRUNTIME_LIBRARY environment variable): one found in
#                                 onnxruntime_ROOT, else the onnxruntime wheel of the Python on PATH
#                                 (onnxruntime/capi/libonnxruntime.so.<version>), else none
#                                 (libonnxruntime.so.1 from the loader's search path)
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

if(NOT DEFINED TRTMATTE_ONNXRUNTIME_LIBRARY)
  set(_ort_default "")
  if(_ort_library)
    set(_ort_default ${_ort_library})
  else()
    # find_spec, not import: locating the wheel must not load onnxruntime into the configure step.
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
          list(GET _ort_wheel_library -1 _ort_default)
        endif()
      endif()
    endif()
  endif()
  set(TRTMATTE_ONNXRUNTIME_LIBRARY "${_ort_default}" CACHE FILEPATH
      "ONNX Runtime library libtrtmatte tries first at run time (empty: libonnxruntime.so.1 from the loader's path)")
endif()

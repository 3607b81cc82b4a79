# TensorRT headers: -DTensorRT_ROOT=/path/to/TensorRT (include/NvInferRuntime.h), or the system's
# (JetPack and NVIDIA's Debian packages put them in /usr/include/<arch>-linux-gnu). Only headers
# are needed to build: libtrtmatte loads libnvinfer at run time, and TensorRT loads the plugin.
set(TensorRT_ROOT "" CACHE PATH "TensorRT install (include/NvInferRuntime.h)")
find_path(TensorRT_INCLUDE_DIR NvInferRuntime.h
          HINTS ${TensorRT_ROOT} $ENV{TensorRT_ROOT}
          PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)

# The TensorRT version of a header set, from its NvInferVersion.h (10.x and 11.x spell it differently).
function(trtmatte_tensorrt_version include_dir out_var)
  file(STRINGS ${include_dir}/NvInferVersion.h _lines REGEX "define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)")
  foreach(part MAJOR MINOR PATCH)
    set(_${part} "?")
    foreach(line IN LISTS _lines)
      if(line MATCHES "define (NV_TENSORRT|TRT)_${part}(_ENTERPRISE)? +([0-9]+)")
        set(_${part} ${CMAKE_MATCH_3})
      endif()
    endforeach()
  endforeach()
  set(${out_var} "${_MAJOR}.${_MINOR}.${_PATCH}" PARENT_SCOPE)
endfunction()

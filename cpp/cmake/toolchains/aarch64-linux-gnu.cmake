# Cross-compiling trtmatte for 64-bit Arm Linux (Jetson Orin/Xavier, Arm servers) with Debian's
# cross toolchain (apt-get install g++-aarch64-linux-gnu libc6-dev-arm64-cross; both are in
# scripts/install-system-packages.sh):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cpp/cmake/toolchains/aarch64-linux-gnu.cmake
# Programs built this way run on this machine under qemu-user-static (ctest uses it automatically
# through CMAKE_CROSSCOMPILING_EMULATOR when it is installed). tests/jetson/ builds and runs them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(TRTMATTE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${TRTMATTE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${TRTMATTE_CROSS_TRIPLE}-g++)

# The target's libraries live under /usr/aarch64-linux-gnu (libc6-dev-arm64-cross) and, with
# Debian multiarch (dpkg --add-architecture arm64), /usr/lib/aarch64-linux-gnu.
set(CMAKE_FIND_ROOT_PATH /usr/${TRTMATTE_CROSS_TRIPLE})
set(CMAKE_LIBRARY_PATH /usr/lib/${TRTMATTE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # compilers, python, nvcc: the build machine's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)   # never link an x86-64 library
# Headers and CMake packages may come from the build machine too: nlohmann-json is header-only and
# TensorRT/ONNX Runtime/CUDA headers are architecture-independent. Libraries are still target-only.
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config must not hand out the build machine's libraries (cpp-httplib, stb): target ones only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${TRTMATTE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)

find_program(TRTMATTE_QEMU_AARCH64 qemu-aarch64-static)
if(TRTMATTE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TRTMATTE_QEMU_AARCH64};-L;/usr/${TRTMATTE_CROSS_TRIPLE})
endif()

// The fake CUDA runtime's controls (fake_cudart.cpp).
#pragma once

#include <cuda_runtime_api.h>

void fake_cuda_reset(int devices, int current_device);  // also zeroes the switch count
int fake_cuda_current();                                 // this thread's current device
int fake_cuda_switches();                                // cudaSetDevice calls that succeeded

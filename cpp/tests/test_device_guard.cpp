// The TensorRT session's device handling against the fake CUDA runtime: DeviceGuard makes the
// requested device current and gives the caller's back afterwards, on errors too; gpu_info names
// a missing device.
#include "check.hpp"
#include "cuda.hpp"
#include "fake_cudart.hpp"

#include <trtmatte/error.hpp>

#include <new>
#include <string>

using namespace trtmatte;

int main() {
    fake_cuda_reset(2, 1);  // the caller works on device 1
    {
        const cuda::DeviceGuard guard(0);
        CHECK_EQ(fake_cuda_current(), 0);
    }
    CHECK_EQ(fake_cuda_current(), 1);  // restored
    CHECK_EQ(fake_cuda_switches(), 2);

    fake_cuda_reset(2, 0);
    {
        const cuda::DeviceGuard guard(0);  // already current: no switch, nothing to restore
        CHECK_EQ(fake_cuda_current(), 0);
    }
    CHECK_EQ(fake_cuda_switches(), 0);

    // An exception inside the call still restores the caller's device.
    fake_cuda_reset(2, 1);
    try {
        const cuda::DeviceGuard guard(0);
        throw Error(Errc::Runtime, "the call failed");
    } catch (const Error&) {
    }
    CHECK_EQ(fake_cuda_current(), 1);

    // A device that does not exist: an Error, and the current device is unchanged.
    fake_cuda_reset(1, 0);
    bool threw = false;
    try {
        const cuda::DeviceGuard guard(3);
    } catch (const Error& err) {
        threw = true;
        CHECK(std::string(err.what()).find("cudaSetDevice") != std::string::npos);
    }
    CHECK(threw);
    CHECK_EQ(fake_cuda_current(), 0);
    {
        const cuda::DeviceGuard guard(3, std::nothrow);  // destructors: best effort, no throw
        CHECK_EQ(fake_cuda_current(), 0);
    }

    std::string why;
    fake_cuda_reset(2, 0);
    const auto second = cuda::gpu_info(1, &why);
    CHECK(second.has_value() && second->name == "Fake GPU 1");
    CHECK(!cuda::gpu_info(2, &why).has_value());
    CHECK_EQ(why, std::string("no CUDA device 2 (this machine has 2)"));
    return check::summary("test_device_guard");
}

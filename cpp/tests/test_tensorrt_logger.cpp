// TensorRT's logger in a long-lived process, against a fake libnvinfer (fake_nvinfer.cpp):
// every runtime gets the one process-wide logger, which outlives every model; errors reach each
// open model's CapturingLogger, a closed model's never again (the hot-reload order: open the new,
// close the old, keep logging), and subscribing, unsubscribing and logging may race.
#include "check.hpp"
#include "tensorrt_library.hpp"

#include <dlfcn.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifndef FAKE_NVINFER
#error "FAKE_NVINFER must name the fake libnvinfer (cpp/tests/CMakeLists.txt)"
#endif

using namespace trtmatte;
using Severity = nvinfer1::ILogger::Severity;

int main() {
    const TensorRTLibrary& library = TensorRTLibrary::load(FAKE_NVINFER);
    void* fake = dlopen(FAKE_NVINFER, RTLD_NOW | RTLD_NOLOAD);
    CHECK(fake != nullptr);
    auto last_logger = reinterpret_cast<void* (*)()>(dlsym(fake, "fake_nvinfer_last_logger"));
    auto runtimes = reinterpret_cast<int (*)()>(dlsym(fake, "fake_nvinfer_runtimes"));
    CHECK(last_logger != nullptr && runtimes != nullptr);

    // Two models' runtimes: the same logger, the process's.
    CHECK(library.create_runtime() == nullptr);
    void* first = last_logger();
    CHECK(library.create_runtime() == nullptr);
    CHECK_EQ(runtimes(), 2);
    CHECK(first == last_logger());
    CHECK(first == static_cast<nvinfer1::ILogger*>(&ProcessLogger::instance()));
    nvinfer1::ILogger& tensorrt_side = *static_cast<nvinfer1::ILogger*>(first);

    auto old_model = std::make_unique<CapturingLogger>();
    CHECK_EQ(old_model->last_error(), std::string("no message from TensorRT"));
    tensorrt_side.log(Severity::kERROR, "first error");
    tensorrt_side.log(Severity::kWARNING, "a warning is not an error");
    CHECK_EQ(old_model->last_error(), std::string("first error"));
    auto new_model = std::make_unique<CapturingLogger>();  // hot reload: open the new one ...
    tensorrt_side.log(Severity::kINTERNAL_ERROR, "second error");
    CHECK_EQ(old_model->last_error(), std::string("second error"));
    CHECK_EQ(new_model->last_error(), std::string("second error"));
    old_model.reset();  // ... close the old one: TensorRT keeps logging to a live object
    tensorrt_side.log(Severity::kERROR, "after the old model closed");
    CHECK_EQ(new_model->last_error(), std::string("after the old model closed"));
    new_model.reset();
    tensorrt_side.log(Severity::kERROR, "no model open");  // nobody listens: nothing happens

    // Models opening and closing while TensorRT logs from other threads.
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] {
            while (!stop) tensorrt_side.log(Severity::kERROR, "from a TensorRT thread");
        });
    }
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([] {
            for (int n = 0; n < 2000; ++n) {
                CapturingLogger model;
                (void)model.last_error();
            }
        });
    }
    for (std::size_t i = 3; i < threads.size(); ++i) threads[i].join();
    stop = true;
    for (int i = 0; i < 3; ++i) threads[static_cast<std::size_t>(i)].join();
    return check::summary("test_tensorrt_logger");
}

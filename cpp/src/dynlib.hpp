// dlopen with one-line errors. Backend libraries are loaded at run time, not linked: a binary
// built here runs where TensorRT or ONNX Runtime is absent (and says so when asked to use them),
// and ONNX Runtime's versioned symbols (OrtGetApiBase@VERS_1.24.2) do not tie it to one release.
#pragma once

#include <string>
#include <vector>

namespace trtmatte {

class DynamicLibrary {
public:
    DynamicLibrary() = default;
    // Tries each candidate in order (absolute paths or names for the loader's search path); keeps
    // the first that loads. Returns false and fills `failures` ("name: dlerror" per candidate) if none.
    bool open_first(const std::vector<std::string>& candidates, std::string* failures);
    void* symbol(const char* name) const;  // nullptr if absent
    bool loaded() const noexcept { return handle_ != nullptr; }
    const std::string& path() const noexcept { return path_; }  // the candidate that loaded

    // Never dlclose: backend libraries keep threads and atexit handlers that outlive us.
    ~DynamicLibrary() = default;

private:
    void* handle_ = nullptr;
    std::string path_;
};

// The value of an environment variable, or "" when unset.
std::string env_or_empty(const char* name);

}  // namespace trtmatte

#include "dynlib.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace trtmatte {

bool DynamicLibrary::open_first(const std::vector<std::string>& candidates, std::string* failures) {
    std::string errors;
    for (const std::string& name : candidates) {
        if (name.empty()) continue;
        // RTLD_LOCAL: the backend's own symbols (protobuf, ...) must not clash with the host's.
        void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) {
            handle_ = handle;
            path_ = name;
            return true;
        }
        const char* why = dlerror();
        errors += (errors.empty() ? "" : "; ") + std::string(why ? why : name + ": cannot load");
    }
    if (failures != nullptr) *failures = errors;
    return false;
}

void* DynamicLibrary::symbol(const char* name) const {
    return handle_ != nullptr ? dlsym(handle_, name) : nullptr;
}

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

}  // namespace trtmatte

#include <trtmatte/error.hpp>

namespace trtmatte {

namespace {
std::string one_line(std::string text) {
    // Backend messages (ONNX Runtime's, dlerror's) may span lines; every trtmatte error is one.
    for (char& c : text) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}
}  // namespace

Error::Error(Errc code, const std::string& message) : std::runtime_error(one_line(message)), code_(code) {}

}  // namespace trtmatte

#include "cli.hpp"

#include <cstdio>
#include <cstdlib>

namespace trtmatte::examples {

bool Cli::next() {
    if (++index_ >= argc_) return false;
    arg_ = argv_[index_];
    if (arg_ == "-h" || arg_ == "--help") {
        std::fputs(usage_, stdout);
        std::exit(0);
    }
    return true;
}

const char* Cli::value() {
    if (index_ + 1 >= argc_) fail(arg_ + " needs a value");
    return argv_[++index_];
}

long long Cli::integer(long long min) {
    const std::string flag = arg_;
    const char* text = value();
    char* end = nullptr;
    const long long n = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || n < min) fail(flag + " takes an integer >= " + std::to_string(min));
    return n;
}

void Cli::fail(const std::string& message) const {
    std::fprintf(stderr, "%s%s: error: %s\n", usage_, program_, message.c_str());
    std::exit(2);
}

bool Cli::model_flag(std::string& model, Options& options, long long& max_pixels) {
    if (arg_ == "-m" || arg_ == "--model") {
        model = value();
    } else if (arg_ == "--threads") {
        options.threads = static_cast<int>(integer(0));
    } else if (arg_ == "--contexts") {
        options.contexts = static_cast<int>(integer(1));
    } else if (arg_ == "--cuda-graphs") {
        options.cuda_graphs = true;
    } else if (arg_ == "--cpu-arena") {
        options.cpu_arena = true;
    } else if (arg_ == "--no-cpu-arena") {
        options.cpu_arena = false;
    } else if (arg_ == "--device") {
        options.device = static_cast<int>(integer(0));
    } else if (arg_ == "--max-pixels") {
        max_pixels = integer(0);
    } else {
        return false;
    }
    return true;
}

}  // namespace trtmatte::examples

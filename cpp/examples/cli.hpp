// The command-line parsing both examples share: flags with values, integer checks, --help, and
// usage errors (exit 2 with the usage and one error line).
#pragma once

#include <trtmatte/matter.hpp>

#include <string>

namespace trtmatte::examples {

class Cli {
public:
    Cli(const char* program, const char* usage, int argc, char** argv)
        : program_(program), usage_(usage), argc_(argc), argv_(argv) {}

    // Advances to the next argument; false after the last. Prints the usage and exits 0 on -h/--help.
    bool next();
    const std::string& arg() const { return arg_; }
    const char* value();                     // the current flag's value
    long long integer(long long min);        // the current flag's value as an integer >= min
    [[noreturn]] void fail(const std::string& message) const;

    // The flags both examples take: -m/--model, --threads, --contexts, --cuda-graphs, --device,
    // --cpu-arena/--no-cpu-arena, --max-pixels.
    // True if the current argument was one of them (and its value was read).
    bool model_flag(std::string& model, Options& options, long long& max_pixels);

private:
    const char* program_;
    const char* usage_;
    int argc_;
    char** argv_;
    int index_ = 0;
    std::string arg_;
};

}  // namespace trtmatte::examples

// A few assertion macros for the C++ unit tests (no test framework to install): each failure
// prints file:line and what was compared; main() returns the failure count, which ctest reads.
#pragma once

#include <trtmatte/error.hpp>

#include <cstdio>
#include <string>

namespace check {

inline int failures = 0;

inline void fail(const char* file, int line, const std::string& what) {
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
    ++failures;
}

inline int summary(const char* name) {
    std::printf("%s: %s\n", name, failures ? (std::to_string(failures) + " failure(s)").c_str() : "all passed");
    return failures ? 1 : 0;
}

}  // namespace check

#define CHECK(cond) \
    ((cond) ? (void)0 : check::fail(__FILE__, __LINE__, #cond))

#define CHECK_EQ(a, b)                                                                                   \
    do {                                                                                                 \
        const auto& check_a_ = (a);                                                                      \
        const auto& check_b_ = (b);                                                                      \
        if (!(check_a_ == check_b_)) check::fail(__FILE__, __LINE__, std::string(#a " == " #b));         \
    } while (0)

// `statement` must throw trtmatte::Error with `code` and a one-line message equal to `expected`
// (or, with CHECK_THROWS_CONTAINING, containing it).
#define CHECK_THROWS_IMPL(statement, errc, expected, exact)                                              \
    do {                                                                                                 \
        try {                                                                                            \
            statement;                                                                                   \
            check::fail(__FILE__, __LINE__, "no exception from " #statement);                            \
        } catch (const trtmatte::Error& check_err_) {                                                    \
            const std::string check_msg_ = check_err_.what();                                            \
            const std::string check_want_ = (expected);                                                  \
            if (check_err_.code() != (errc)) check::fail(__FILE__, __LINE__, "wrong code: " + check_msg_); \
            if (check_msg_.find('\n') != std::string::npos)                                              \
                check::fail(__FILE__, __LINE__, "not one line: " + check_msg_);                          \
            if ((exact) ? check_msg_ != check_want_ : check_msg_.find(check_want_) == std::string::npos) \
                check::fail(__FILE__, __LINE__, "message\n  got:  " + check_msg_ + "\n  want: " + check_want_); \
        }                                                                                                \
    } while (0)

#define CHECK_THROWS(statement, errc, expected) CHECK_THROWS_IMPL(statement, errc, expected, true)
#define CHECK_THROWS_CONTAINING(statement, errc, expected) CHECK_THROWS_IMPL(statement, errc, expected, false)

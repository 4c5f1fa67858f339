// Internal error type: native code throws ember::Error; the C ABI boundary catches it, stores the
// message as the thread's last error and returns the status code. Nothing else crosses the ABI.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "ember/ember.h"

namespace ember {

class Error : public std::exception {
  public:
    Error(ember_status status, std::string message) : status_(status), message_(std::move(message)) {}
    ember_status status() const noexcept { return status_; }
    const char* what() const noexcept override { return message_.c_str(); }

  private:
    ember_status status_;
    std::string message_;
};

// printf-style message formatting for errors.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define EMBER_FAIL(status, ...) throw ::ember::Error((status), ::ember::format(__VA_ARGS__))
#define EMBER_CHECK_ARG(cond, ...) \
    do { if (!(cond)) EMBER_FAIL(EMBER_ERR_INVALID_ARGUMENT, __VA_ARGS__); } while (0)
#define EMBER_CHECK_MODEL(cond, ...) \
    do { if (!(cond)) EMBER_FAIL(EMBER_ERR_MODEL_MALFORMED, __VA_ARGS__); } while (0)

// Last-error storage for the calling thread.
void set_last_error(const std::string& message);
const char* last_error();

// Runs `body` and converts any exception into a status plus last-error message. Used by every
// C ABI function so that no C++ exception crosses into JNI.
template <class Body>
ember_status guarded(Body&& body) noexcept {
    try {
        set_last_error("");
        body();
        return EMBER_OK;
    } catch (const Error& e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_last_error("out of host memory");
        return EMBER_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return EMBER_ERR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return EMBER_ERR_INTERNAL;
    }
}

}  // namespace ember

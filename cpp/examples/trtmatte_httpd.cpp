// trtmatte-httpd: alpha mattes over HTTP with libtrtmatte and cpp-httplib.
//
//   trtmatte-httpd --model late_fusion.onnx --port 8080
//   curl --data-binary @photo.jpg http://127.0.0.1:8080/matte -o alpha.png
//
// POST /matte   body: a PNG/JPEG/BMP/... image -> 200 image/png (8-bit grey alpha, same size)
//               or multipart/form-data with a part "image" and, for trimap models, a part "trimap"
//                 curl -F image=@photo.jpg -F trimap=@trimap.png http://127.0.0.1:8080/matte -o alpha.png
//               400 not an image, a trimap missing (trimap model) or given (trimap-free model), a
//               trimap of another size; 405 another method; 408 the body did not arrive within
//               --request-timeout; 413 too many bytes (sized or chunked) or pixels (from the
//               image's header, before decoding); 422 outside the engine's profile; 503 every
//               matting slot stayed busy for --queue-timeout seconds
// GET  /health  200 application/json: model, whether it needs a trimap, requests served, mattes in flight
// Errors are JSON {"error": "<one line>"}. SIGINT/SIGTERM stop the server cleanly.
//
// Admission comes first: a request takes one of --max-inflight matting slots (or waits for one up
// to --queue-timeout) before its body is read, so bodies, decoded pixels and the model's working
// memory are held by at most that many requests at once; each body is bounded by --max-bytes
// however it is sent, and each image by --max-pixels, read from its header before decoding.
// Connections: --workers threads serve them; a client that trickles its request holds one, never a
// matting slot longer than --request-timeout. ONNX Runtime's CPU arena is off (each request's
// memory is given back, docs/cpp.md "Memory"; --cpu-arena turns it on).
#include "cli.hpp"
#include "image_io.hpp"

#include <trtmatte/matter.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <new>
#include <mutex>
#include <optional>
#include <utility>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <pthread.h>
#include <string>
#include <thread>

namespace {

const char* const kUsage =
    "usage: trtmatte-httpd --model MODEL [--host 127.0.0.1] [--port 8080] [--workers 64] [--max-inflight N]\n"
    "                      [--queue-timeout 30] [--request-timeout 60] [--max-bytes 67108864]\n"
    "                      [--max-pixels 40000000] [--threads N] [--contexts N] [--cuda-graphs] [--device N]\n"
    "                      [--cpu-arena]\n"
    "  --port 0 picks a free port; the first line on stdout says which.\n"
    "  --max-inflight defaults to the number of cores (ONNX Runtime) or --contexts (TensorRT).\n"
    "  --cpu-arena keeps ONNX Runtime's CPU arena (off here: each request's memory is given back).\n";

// 40 megapixels: the largest common camera photos (8000x5000) pass; larger is refused from the header
// with 413 before anything is decoded. Decoded RGB and alpha are 4 bytes a pixel on top of the
// model's working memory (docs/cpp.md, "Memory"), per request in flight.
constexpr long long kHttpdMaxPixels = 40'000'000;

struct Args {
    std::string model, host = "127.0.0.1";
    int port = 8080, workers = 64, max_inflight = 0;
    double queue_timeout = 30, request_timeout = 60;
    long long max_bytes = 64LL << 20, max_pixels = kHttpdMaxPixels;
    trtmatte::Options options;
};

Args parse(int argc, char** argv) {
    trtmatte::examples::Cli cli("trtmatte-httpd", kUsage, argc, argv);
    Args args;
    args.options.cpu_arena = false;
    while (cli.next()) {
        const std::string& arg = cli.arg();
        if (cli.model_flag(args.model, args.options, args.max_pixels)) {
            continue;
        } else if (arg == "--host") {
            args.host = cli.value();
        } else if (arg == "--port") {
            args.port = static_cast<int>(cli.integer(0));
        } else if (arg == "--workers") {
            args.workers = static_cast<int>(cli.integer(1));
        } else if (arg == "--max-inflight") {
            args.max_inflight = static_cast<int>(cli.integer(1));
        } else if (arg == "--queue-timeout") {
            args.queue_timeout = static_cast<double>(cli.integer(0));
        } else if (arg == "--request-timeout") {
            args.request_timeout = static_cast<double>(cli.integer(1));
        } else if (arg == "--max-bytes") {
            args.max_bytes = cli.integer(1);
        } else {
            cli.fail("unknown argument " + arg);
        }
    }
    if (args.model.empty()) cli.fail("--model is required");
    if (args.port > 65535) cli.fail("--port must be 0..65535");
    return args;
}

// At most `limit` holders at once; others wait up to a timeout.
class Slots {
public:
    explicit Slots(int limit) : free_(limit) {}

    // A held slot, given back when it goes out of scope, whatever ends the request (exceptions too).
    class Lease {
    public:
        explicit Lease(Slots* owner) : owner_(owner) {}
        Lease(Lease&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (owner_ != nullptr) owner_->release();
        }
        explicit operator bool() const { return owner_ != nullptr; }

    private:
        Slots* owner_;
    };

    // A held lease, or an empty one if no slot came free within `timeout`.
    Lease acquire(std::chrono::duration<double> timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!available_.wait_for(lock, timeout, [&] { return free_ > 0; })) return Lease(nullptr);
        --free_;
        ++held_;
        return Lease(this);
    }
    long held() {
        std::lock_guard<std::mutex> lock(mutex_);
        return held_;
    }

private:
    void release() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++free_;
            --held_;
        }
        available_.notify_one();
    }

    std::mutex mutex_;
    std::condition_variable available_;
    int free_;
    long held_ = 0;
};

// The body of a request, read through httplib's content receiver so that one limit holds for
// sized and chunked bodies alike (httplib's own payload limit covers sized ones only) and the
// whole body must arrive by a deadline. Form parts are kept by name.
struct Body {
    std::string raw;                           // a plain body
    std::map<std::string, std::string> parts;  // multipart/form-data parts (name -> content)
    enum class Outcome { Complete, TooLarge, TooSlow, Broken } outcome = Outcome::Complete;
};

Body read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t max_bytes,
               std::chrono::steady_clock::time_point deadline) {
    Body body;
    std::size_t total = 0;
    // false stops httplib reading: the rest of the body is never buffered.
    auto take = [&](std::size_t length) {
        total += length;
        if (total > max_bytes) body.outcome = Body::Outcome::TooLarge;
        else if (std::chrono::steady_clock::now() > deadline) body.outcome = Body::Outcome::TooSlow;
        return body.outcome == Body::Outcome::Complete;
    };
    // Room for the most the body may hold, reserved up front: only the pages written become
    // resident, and the string never doubles its way up (twice the bytes, and copies) as it grows.
    std::size_t room = max_bytes;
    if (req.has_header("Content-Length")) {
        const unsigned long long declared = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
        room = static_cast<std::size_t>(std::min<unsigned long long>(room, declared));
    }
    bool read = false;
    if (req.is_multipart_form_data()) {
        std::string current;
        read = reader(
            [&](const httplib::MultipartFormData& file) {
                current = file.name;
                body.parts[current].reserve(room - std::min(room, total));
                return true;
            },
            [&](const char* data, std::size_t length) {
                if (!take(length)) return false;
                body.parts[current].append(data, length);
                return true;
            });
    } else {
        body.raw.reserve(room);
        read = reader([&](const char* data, std::size_t length) {
            if (!take(length)) return false;
            body.raw.append(data, length);
            return true;
        });
    }
    if (!read && body.outcome == Body::Outcome::Complete) body.outcome = Body::Outcome::Broken;
    return body;
}

void fail(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

void give_back_free_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

int status_for(const trtmatte::Error& err) {
    switch (err.code()) {
        case trtmatte::Errc::InvalidArgument: return 422;  // e.g. outside the engine's profile
        case trtmatte::Errc::OutOfMemory: return 503;
        default: return 500;
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    // Signals go to one thread that stops the server; every other thread (httplib's workers
    // included, which inherit this mask) never sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::unique_ptr<trtmatte::Matter> matter;
    try {
        matter = std::make_unique<trtmatte::Matter>(args.model, args.options);
    } catch (const trtmatte::Error& err) {
        std::fprintf(stderr, "trtmatte-httpd: error: %s\n", err.what());
        return 1;
    }
    const bool tensorrt = matter->info().backend == "tensorrt";
    const bool needs_trimap = matter->info().needs_trimap;
    const int inflight_limit = args.max_inflight > 0 ? args.max_inflight
                               : tensorrt            ? args.options.contexts
                                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Slots slots(inflight_limit);
    std::atomic<long> served{0};

    httplib::Server server;
    const int workers = args.workers;
    server.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
    server.set_payload_max_length(static_cast<size_t>(args.max_bytes));
    // Per read: a client silent this long is dropped. A trickling one is bounded by --request-timeout
    // once its headers are in (cpp-httplib 0.11 offers no hook before that: see --workers).
    server.set_read_timeout(10, 0);
    server.set_write_timeout(30, 0);

    server.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(nlohmann::json{{"status", "ok"},
                                       {"model", matter->describe()},
                                       {"needs_trimap", needs_trimap},
                                       {"served", served.load()},
                                       {"inflight", slots.held()},
                                       {"max_inflight", inflight_limit}}
                            .dump(),
                        "application/json");
    });

    server.Post("/matte", [&](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
        // A refused body is left unread: the connection cannot carry another request after it.
        auto refuse = [&](int status, const std::string& message) {
            res.set_header("Connection", "close");
            fail(res, status, message);
        };
        const std::string too_many_bytes = "request body over --max-bytes " + std::to_string(args.max_bytes) +
                                           " bytes (send a smaller image, or raise --max-bytes)";
        if (req.has_header("Content-Length") &&
            std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) >
                static_cast<unsigned long long>(args.max_bytes)) {
            return refuse(413, too_many_bytes);
        }
        // Admission: a slot before the body is read, so at most --max-inflight bodies and images are
        // in memory at once. Released when the request ends, however it ends.
        const Slots::Lease slot = slots.acquire(std::chrono::duration<double>(args.queue_timeout));
        if (!slot) {
            res.set_header("Retry-After", "1");
            return refuse(503, "server busy: every matting slot stayed busy for " +
                                   std::to_string(static_cast<int>(args.queue_timeout)) + " s");
        }
        // The body's deadline counts from admission: time spent queued for a slot is not the client's.
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(args.request_timeout));
        Body body = read_body(req, reader, static_cast<std::size_t>(args.max_bytes), deadline);
        switch (body.outcome) {
            case Body::Outcome::TooLarge: return refuse(413, too_many_bytes);
            case Body::Outcome::TooSlow:
                return refuse(408, "the request body did not arrive within --request-timeout " +
                                       std::to_string(static_cast<int>(args.request_timeout)) + " s");
            case Body::Outcome::Broken: return refuse(400, "the request body could not be read (connection closed?)");
            case Body::Outcome::Complete: break;
        }
        // The image is the body, or the "image" part of a form; a trimap is only ever a form part.
        const bool form = req.is_multipart_form_data();
        const auto image_part = body.parts.find("image"), trimap_part = body.parts.find("trimap");
        const bool has_image = !form || image_part != body.parts.end();
        const bool has_trimap = form && trimap_part != body.parts.end();
        if (!has_image) {
            return fail(res, 400, "the form has no part named 'image' (send -F image=@photo.jpg" +
                                      std::string(needs_trimap ? " -F trimap=@trimap.png)" : ")"));
        }
        if (needs_trimap && !has_trimap) {
            return fail(res, 400, matter->info().variant + " needs a trimap: send multipart/form-data with parts "
                                  "'image' and 'trimap' (curl -F image=@photo.jpg -F trimap=@trimap.png)");
        }
        if (!needs_trimap && has_trimap) {
            return fail(res, 400, matter->info().variant + " is trimap-free: drop the 'trimap' part");
        }
        trtmatte::examples::Image image;
        trtmatte::examples::Trimap trimap;
        try {
            const std::string& data = form ? image_part->second : body.raw;
            const std::string name = form ? "in the 'image' part" : "in the request body";
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
            // Sizes from the headers first: a 413 before anything is decoded.
            trtmatte::examples::check_declared_pixels(bytes, data.size(), "image", name, args.max_pixels);
            if (needs_trimap) {
                const std::string& part = trimap_part->second;
                trtmatte::examples::check_declared_pixels(reinterpret_cast<const std::uint8_t*>(part.data()),
                                                          part.size(), "trimap", "in the 'trimap' part",
                                                          args.max_pixels);
            }
            image = trtmatte::examples::decode_image(bytes, data.size(), name, args.max_pixels);
            if (needs_trimap) {
                const std::string& part = trimap_part->second;
                trimap = trtmatte::examples::decode_trimap(reinterpret_cast<const std::uint8_t*>(part.data()),
                                                           part.size(), "in the 'trimap' part", args.max_pixels);
                trtmatte::examples::check_trimap_size(trimap, image, "in the 'trimap' part");
            }
        } catch (const trtmatte::examples::ImageTooLarge& err) {
            return fail(res, 413, err.what());
        } catch (const trtmatte::Error& err) {
            return fail(res, 400, err.what());
        }
        body = Body{};  // the encoded bytes are not needed any more
        std::vector<std::uint8_t> alpha(static_cast<std::size_t>(image.width) * image.height);
        try {
            if (needs_trimap) {
                matter->matte(image.rgb.data(), image.height, image.width, static_cast<std::size_t>(image.width) * 3,
                              trimap.values.data(), static_cast<std::size_t>(trimap.width), alpha.data());
            } else {
                matter->matte(image.rgb.data(), image.height, image.width, static_cast<std::size_t>(image.width) * 3,
                              alpha.data());
            }
        } catch (const trtmatte::Error& err) {
            return fail(res, status_for(err), err.what());
        }
        const int width = image.width, height = image.height;
        image = {};
        trimap = {};
        const auto png = trtmatte::examples::encode_png_grey(alpha.data(), width, height);
        res.set_content(std::string(png.begin(), png.end()), "image/png");
        ++served;
    });

    // A known path with another method: 405 with the methods it takes.
    const auto wrong_method = [](const char* allow) {
        return [allow](const httplib::Request& req, httplib::Response& res) {
            res.set_header("Allow", allow);
            fail(res, 405, req.method + " " + req.path + " is not served: use " + allow + " " + req.path);
        };
    };
    server.Get("/matte", wrong_method("POST"));
    server.Put("/matte", wrong_method("POST"));
    server.Patch("/matte", wrong_method("POST"));
    server.Delete("/matte", wrong_method("POST"));
    server.Post("/health", wrong_method("GET"));
    server.Put("/health", wrong_method("GET"));
    server.Patch("/health", wrong_method("GET"));
    server.Delete("/health", wrong_method("GET"));

    // Anything a handler did not turn into a status itself (out of memory encoding the reply, say):
    // a 500 with one line; the slot it held went back as its Lease unwound.
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(error);
        } catch (const std::bad_alloc&) {
            what = "out of memory";
        } catch (const std::exception& exc) {
            what = exc.what();
        } catch (...) {
        }
        fail(res, 500, "internal error: " + what);
    });

    // Each request's memory back to the system when it ends: without ONNX Runtime's arena the
    // model's working memory is freed, but glibc keeps freed blocks in per-thread heaps.
    server.set_logger([](const httplib::Request&, const httplib::Response&) { give_back_free_memory(); });

    // httplib answers unknown paths (404) and oversized bodies (413) itself: give them JSON too.
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string what = res.status == 413 ? "request body too large (see --max-bytes)"
                                 : res.status == 404 ? "no such endpoint: " + req.method + " " + req.path +
                                                           " (POST /matte, GET /health)"
                                                     : "HTTP " + std::to_string(res.status);
        fail(res, res.status, what);
    });

    const int port = args.port == 0 ? server.bind_to_any_port(args.host) : args.port;
    if (port < 0 || (args.port != 0 && !server.bind_to_port(args.host, args.port))) {
        std::fprintf(stderr, "trtmatte-httpd: error: cannot listen on %s:%d (in use, or not an address of this "
                             "machine?)\n", args.host.c_str(), args.port);
        return 1;
    }
    std::thread stopper([&] {
        int signal = 0;
        sigwait(&stop_signals, &signal);
        server.stop();
    });
    std::printf("trtmatte-httpd: listening on http://%s:%d (%s; %d workers, %d mattes at once)\n", args.host.c_str(),
                port, matter->describe().c_str(), workers, inflight_limit);
    std::fflush(stdout);
    const bool clean = server.listen_after_bind();
    // Wake the signal thread if listening ended for another reason.
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    std::printf("trtmatte-httpd: stopped after %ld mattes\n", served.load());
    return clean ? 0 : 1;
}

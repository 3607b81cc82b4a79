// trtmatte-httpd: alpha mattes over HTTP with libtrtmatte and cpp-httplib.
//
//   trtmatte-httpd --model late_fusion.onnx --port 8080
//   curl --data-binary @photo.jpg http://127.0.0.1:8080/matte -o alpha.png
//
// POST /matte   body: a PNG/JPEG/BMP/... image -> 200 image/png (8-bit grey alpha, same size)
//               or multipart/form-data with a part "image" and, for trimap models, a part "trimap"
//                 curl -F image=@photo.jpg -F trimap=@trimap.png http://127.0.0.1:8080/matte -o alpha.png
//               400 not an image, a trimap missing (trimap model) or given (trimap-free model), a
//               trimap of another size; 413 too many bytes or pixels; 422 outside the engine's
//               profile; 503 every matting slot stayed busy for --queue-timeout seconds
// GET  /health  200 application/json: model, whether it needs a trimap, requests served, mattes in flight
// Errors are JSON {"error": "<one line>"}. SIGINT/SIGTERM stop the server cleanly.
//
// Concurrency is bounded twice: --workers HTTP threads (connections served at once) and
// --max-inflight mattes at once (requests beyond that wait, up to --queue-timeout).
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
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>

namespace {

const char* const kUsage =
    "usage: trtmatte-httpd --model MODEL [--host 127.0.0.1] [--port 8080] [--workers 16] [--max-inflight N]\n"
    "                      [--queue-timeout 30] [--max-bytes 67108864] [--max-pixels N] [--threads N]\n"
    "                      [--contexts N] [--cuda-graphs]\n"
    "  --port 0 picks a free port; the first line on stdout says which.\n"
    "  --max-inflight defaults to the number of cores (ONNX Runtime) or --contexts (TensorRT).\n";

struct Args {
    std::string model, host = "127.0.0.1";
    int port = 8080, workers = 16, max_inflight = 0;
    double queue_timeout = 30;
    long long max_bytes = 64LL << 20, max_pixels = trtmatte::examples::kDefaultMaxPixels;
    trtmatte::Options options;
};

Args parse(int argc, char** argv) {
    trtmatte::examples::Cli cli("trtmatte-httpd", kUsage, argc, argv);
    Args args;
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
    bool acquire(std::chrono::duration<double> timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!available_.wait_for(lock, timeout, [&] { return free_ > 0; })) return false;
        --free_;
        return true;
    }
    void release() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++free_;
        }
        available_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable available_;
    int free_;
};

void fail(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

// A part of a multipart/form-data request, if present. cpp-httplib moved form parts from
// Request::has_file/get_file_value to Request::form in later releases: use whichever this one has.
template <typename Request>
auto part_of(const Request& req, const std::string& name, int)
    -> decltype(req.form.get_file(name).content, std::optional<std::string>()) {
    if (!req.form.has_file(name)) return std::nullopt;
    return req.form.get_file(name).content;
}

template <typename Request>
std::optional<std::string> part_of(const Request& req, const std::string& name, long) {
    if (!req.has_file(name)) return std::nullopt;
    return req.get_file_value(name).content;
}

std::optional<std::string> form_part(const httplib::Request& req, const std::string& name) {
    return part_of(req, name, 0);
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
    std::atomic<long> served{0}, inflight{0};

    httplib::Server server;
    const int workers = args.workers;
    server.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
    server.set_payload_max_length(static_cast<size_t>(args.max_bytes));
    server.set_read_timeout(30, 0);
    server.set_write_timeout(30, 0);

    server.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(nlohmann::json{{"status", "ok"},
                                       {"model", matter->describe()},
                                       {"needs_trimap", needs_trimap},
                                       {"served", served.load()},
                                       {"inflight", inflight.load()},
                                       {"max_inflight", inflight_limit}}
                            .dump(),
                        "application/json");
    });

    server.Post("/matte", [&](const httplib::Request& req, httplib::Response& res) {
        // The image is the body, or the "image" part of a form; a trimap is only ever a form part.
        const bool form = req.is_multipart_form_data();
        const std::optional<std::string> image_part = form ? form_part(req, "image") : std::nullopt;
        const std::optional<std::string> trimap_part = form ? form_part(req, "trimap") : std::nullopt;
        if (form && !image_part) {
            return fail(res, 400, "the form has no part named 'image' (send -F image=@photo.jpg" +
                                      std::string(needs_trimap ? " -F trimap=@trimap.png)" : ")"));
        }
        if (needs_trimap && !trimap_part) {
            return fail(res, 400, matter->info().variant + " needs a trimap: send multipart/form-data with parts "
                                  "'image' and 'trimap' (curl -F image=@photo.jpg -F trimap=@trimap.png)");
        }
        if (!needs_trimap && trimap_part) {
            return fail(res, 400, matter->info().variant + " is trimap-free: drop the 'trimap' part");
        }
        trtmatte::examples::Image image;
        trtmatte::examples::Trimap trimap;
        try {
            const std::string& data = form ? *image_part : req.body;
            image = trtmatte::examples::decode_image(reinterpret_cast<const std::uint8_t*>(data.data()), data.size(),
                                                     form ? "in the 'image' part" : "in the request body",
                                                     args.max_pixels);
            if (needs_trimap) {
                const std::string& part = *trimap_part;
                trimap = trtmatte::examples::decode_trimap(reinterpret_cast<const std::uint8_t*>(part.data()),
                                                           part.size(), "in the 'trimap' part", args.max_pixels);
                trtmatte::examples::check_trimap_size(trimap, image, "in the 'trimap' part");
            }
        } catch (const trtmatte::Error& err) {
            const bool too_large = std::string(err.what()).find("megapixels") != std::string::npos;
            return fail(res, too_large ? 413 : 400, err.what());
        }
        if (!slots.acquire(std::chrono::duration<double>(args.queue_timeout))) {
            res.set_header("Retry-After", "1");
            return fail(res, 503, "server busy: every matting slot stayed busy for " +
                                      std::to_string(static_cast<int>(args.queue_timeout)) + " s");
        }
        ++inflight;
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
            --inflight;
            slots.release();
            return fail(res, status_for(err), err.what());
        }
        --inflight;
        slots.release();
        const auto png = trtmatte::examples::encode_png_grey(alpha.data(), image.width, image.height);
        res.set_content(std::string(png.begin(), png.end()), "image/png");
        ++served;
    });

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

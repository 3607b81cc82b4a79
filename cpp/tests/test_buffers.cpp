// Buffer planning, the cases of tests/runtime/test_buffers.py for the C++ planner.
#include "buffers.hpp"
#include "check.hpp"
#include "pixels.hpp"

#include <cmath>
#include <cstring>
#include <limits>

using trtmatte::DType;
using trtmatte::Errc;
using trtmatte::Shape;
using trtmatte::TensorSpec;

namespace {

const TensorSpec kImage{"image", true, DType::UInt8, {-1, -1, -1, 3}};

std::map<std::string, Shape> alpha_rule(const std::map<std::string, Shape>& in) {
    const Shape& image = in.at("image");
    return {{"alpha", Shape(image.begin(), image.begin() + 3)}};
}

void whole_pipeline_graph_sizes() {
    for (auto [dtype, itemsize] : {std::pair{DType::UInt8, 1}, {DType::Float16, 2}, {DType::Float32, 4}}) {
        for (const Shape& max : {Shape{1, 800, 800, 3}, Shape{4, 1024, 1024, 3}, Shape{2, 1024, 320, 3}}) {
            const TensorSpec alpha{"alpha", false, dtype, {-1, -1, -1}};
            const auto plan = trtmatte::plan_io({kImage, alpha}, {{"image", max}}, alpha_rule);
            const std::size_t pixels = max[0] * max[1] * max[2];
            CHECK_EQ(plan["image"].nbytes(), pixels * 3);
            CHECK_EQ(plan["alpha"].nbytes(), pixels * itemsize);
            CHECK_EQ(plan["alpha"].max_shape, (Shape{max[0], max[1], max[2]}));
            CHECK_EQ(plan.device_bytes(), pixels * (3 + itemsize));
            CHECK_EQ(plan.pinned_bytes(), plan.device_bytes());
        }
    }
}

void slots_multiply_everything() {
    const TensorSpec alpha{"alpha", false, DType::UInt8, {-1, -1, -1}};
    const auto one = trtmatte::plan_io({kImage, alpha}, {{"image", {1, 800, 800, 3}}}, alpha_rule);
    const auto two = trtmatte::plan_io({kImage, alpha}, {{"image", {1, 800, 800, 3}}}, alpha_rule, 2);
    CHECK_EQ(two.device_bytes(), 2 * one.device_bytes());
    CHECK_EQ(two.device_bytes(), std::size_t(2 * 800 * 800 * 4));
    CHECK_THROWS(trtmatte::plan_io({kImage, alpha}, {{"image", {1, 8, 8, 3}}}, alpha_rule, 0), Errc::InvalidArgument,
                 "slots must be at least 1, got 0");
}

void debug_outputs_and_static_inputs() {
    const TensorSpec fg{"fg", false, DType::Float32, {-1, -1, -1}};
    const TensorSpec fixed{"image", true, DType::UInt8, {1, 64, 64, 3}};
    const auto plan = trtmatte::plan_io({fixed, fg}, {}, [](const auto&) {
        return std::map<std::string, Shape>{{"fg", {1, 64, 64}}};
    });
    CHECK_EQ(plan["image"].max_shape, (Shape{1, 64, 64, 3}));
    CHECK_EQ(plan["fg"].nbytes(), std::size_t(64 * 64 * 4));
}

void bad_plans_one_line() {
    const TensorSpec alpha2d{"alpha", false, DType::UInt8, {-1, -1}};
    auto rule = [](const auto&) { return std::map<std::string, Shape>{{"alpha", {-1, 8}}}; };
    CHECK_THROWS(trtmatte::plan_io({kImage}, {}, rule), Errc::Incompatible,
                 "input 'image' has dynamic shape [-1, -1, -1, 3] but the profile gives no max shape for it; rebuild the "
                 "engine with `trtmatte build --max`");
    CHECK_THROWS(trtmatte::plan_io({kImage}, {{"image", {1, 800, 800}}}, rule), Errc::Incompatible,
                 "profile max [1, 800, 800] of input 'image' does not fit its shape [-1, -1, -1, 3]; the sidecar does not "
                 "match the plan: rebuild it");
    CHECK_THROWS_CONTAINING(trtmatte::plan_io({kImage}, {{"image", {1, 800, 800, 4}}}, rule), Errc::Incompatible,
                            "does not fit its shape");
    CHECK_THROWS(trtmatte::plan_io({kImage}, {{"image", {0, 800, 800, 3}}}, rule), Errc::Incompatible,
                 "profile max [0, 800, 800, 3] of input 'image' has a non-positive dimension");
    CHECK_THROWS(trtmatte::plan_io({kImage, alpha2d}, {{"image", {1, 8, 8, 3}}}, rule), Errc::Incompatible,
                 "cannot size output 'alpha': its shape at the profile max is [-1, 8]; the engine's output shape must "
                 "follow from its input shapes");
    CHECK_THROWS_CONTAINING(trtmatte::plan_io({kImage, alpha2d}, {{"image", {1, 8, 8, 3}}},
                                              [](const auto&) { return std::map<std::string, Shape>{}; }),
                            Errc::Incompatible, "its shape at the profile max is None");
    CHECK_THROWS(trtmatte::plan_io({alpha2d}, {}, rule), Errc::Incompatible, "the engine has no input tensor");
}

void shapes_and_dtypes() {
    CHECK(trtmatte::shape_fits({1, 100, 100, 3}, {1, 16, 16, 3}, {2, 128, 128, 3}));
    CHECK(!trtmatte::shape_fits({1, 200, 100, 3}, {1, 16, 16, 3}, {2, 128, 128, 3}));
    CHECK(!trtmatte::shape_fits({100, 100, 3}, {1, 16, 16, 3}, {2, 128, 128, 3}));
    CHECK_EQ(trtmatte::format_shape({}), std::string("[]"));
    CHECK_EQ(trtmatte::element_count({2, 3, -1}), std::int64_t(0));
    CHECK_EQ(trtmatte::dtype_size(DType::Float16), std::size_t(2));
    CHECK_EQ(std::string(trtmatte::dtype_name(DType::Int64)), std::string("int64"));
}

void pixels() {
    // strided rows are packed
    const std::uint8_t src[] = {1, 2, 3, 9, 4, 5, 6, 9};
    std::uint8_t packed[6];
    trtmatte::pack_rows(src, 2, 3, 4, packed);
    CHECK_EQ(std::memcmp(packed, "\1\2\3\4\5\6", 6), 0);
    // float alpha: clamped, x255, half to even, NaN -> 0
    const float f[] = {0.0f, 1.0f, -0.5f, 2.0f, 0.5f, 0.25f, std::numeric_limits<float>::quiet_NaN(), 0.2f};
    std::uint8_t out[8];
    trtmatte::alpha_to_uint8(f, DType::Float32, 8, out);
    const std::uint8_t want[] = {0, 255, 0, 255, 128, 64, 0, 51};  // 127.5 -> 128, 63.75 -> 64
    CHECK_EQ(std::memcmp(out, want, 8), 0);
    // float16 bit patterns: 0, 1, 0.5, -2, +inf
    const std::uint16_t h[] = {0x0000, 0x3C00, 0x3800, 0xC000, 0x7C00};
    trtmatte::alpha_to_uint8(h, DType::Float16, 5, out);
    const std::uint8_t want_h[] = {0, 255, 128, 0, 255};
    CHECK_EQ(std::memcmp(out, want_h, 5), 0);
    const std::uint8_t u[] = {7, 250};
    trtmatte::alpha_to_uint8(u, DType::UInt8, 2, out);
    CHECK(out[0] == 7 && out[1] == 250);
    CHECK_THROWS_CONTAINING(trtmatte::alpha_to_uint8(u, DType::Int32, 1, out), Errc::Unsupported, "alpha of type int32");
}

}  // namespace

int main() {
    whole_pipeline_graph_sizes();
    slots_multiply_everything();
    debug_outputs_and_static_inputs();
    bad_plans_one_line();
    shapes_and_dtypes();
    pixels();
    return check::summary("test_buffers");
}

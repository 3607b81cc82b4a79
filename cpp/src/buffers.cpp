#include "buffers.hpp"

#include <trtmatte/error.hpp>

#include <stdexcept>

namespace trtmatte {

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::Float32: case DType::Int32: return 4;
        case DType::Float16: return 2;
        case DType::Int64: return 8;
        case DType::Int8: case DType::Bool: case DType::UInt8: return 1;
    }
    return 0;
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::Float32: return "float32";
        case DType::Float16: return "float16";
        case DType::Int8: return "int8";
        case DType::Int32: return "int32";
        case DType::Int64: return "int64";
        case DType::Bool: return "bool";
        case DType::UInt8: return "uint8";
    }
    return "?";
}

std::int64_t element_count(const Shape& shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d < 0 ? 0 : d;
    return n;
}

std::string format_shape(const Shape& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

bool shape_fits(const Shape& shape, const Shape& lo, const Shape& hi) {
    if (shape.size() != lo.size() || shape.size() != hi.size()) return false;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < lo[i] || shape[i] > hi[i]) return false;
    }
    return true;
}

std::size_t BufferPlan::nbytes() const { return static_cast<std::size_t>(element_count(max_shape)) * dtype_size(dtype); }

const BufferPlan& IOPlan::operator[](const std::string& name) const {
    for (const auto& b : buffers) {
        if (b.name == name) return b;
    }
    throw std::out_of_range("no buffer named " + name);
}

std::size_t IOPlan::device_bytes() const {
    std::size_t total = 0;
    for (const auto& b : buffers) total += b.nbytes();
    return static_cast<std::size_t>(slots) * total;
}

namespace {

Shape resolve_input_max(const TensorSpec& spec, const Shape* profile_max) {
    bool dynamic = false;
    for (auto d : spec.shape) dynamic = dynamic || d == -1;
    if (profile_max == nullptr) {
        if (dynamic) {
            throw Error(Errc::Incompatible, "input '" + spec.name + "' has dynamic shape " + format_shape(spec.shape) +
                                                " but the profile gives no max shape for it; rebuild the engine with "
                                                "`trtmatte build --max`");
        }
        return spec.shape;
    }
    bool fits = profile_max->size() == spec.shape.size();
    for (std::size_t i = 0; fits && i < spec.shape.size(); ++i) {
        fits = spec.shape[i] == -1 || spec.shape[i] == (*profile_max)[i];
    }
    if (!fits) {
        throw Error(Errc::Incompatible, "profile max " + format_shape(*profile_max) + " of input '" + spec.name +
                                            "' does not fit its shape " + format_shape(spec.shape) +
                                            "; the sidecar does not match the plan: rebuild it");
    }
    for (auto d : *profile_max) {
        if (d <= 0) {
            throw Error(Errc::Incompatible, "profile max " + format_shape(*profile_max) + " of input '" + spec.name +
                                                "' has a non-positive dimension");
        }
    }
    return *profile_max;
}

}  // namespace

IOPlan plan_io(const std::vector<TensorSpec>& tensors, const std::map<std::string, Shape>& profile_max,
               const OutputShapes& output_shapes, int slots) {
    if (slots < 1) throw Error(Errc::InvalidArgument, "slots must be at least 1, got " + std::to_string(slots));
    std::map<std::string, Shape> inputs;
    for (const auto& t : tensors) {
        if (!t.is_input) continue;
        auto it = profile_max.find(t.name);
        inputs[t.name] = resolve_input_max(t, it == profile_max.end() ? nullptr : &it->second);
    }
    if (inputs.empty()) throw Error(Errc::Incompatible, "the engine has no input tensor");
    const auto outs = output_shapes(inputs);
    IOPlan plan;
    plan.slots = slots;
    for (const auto& t : tensors) {
        Shape shape;
        if (t.is_input) {
            shape = inputs.at(t.name);
        } else {
            auto it = outs.find(t.name);
            bool known = it != outs.end();
            for (std::size_t i = 0; known && i < it->second.size(); ++i) known = it->second[i] >= 0;
            if (!known) {
                throw Error(Errc::Incompatible,
                            "cannot size output '" + t.name + "': its shape at the profile max is " +
                                (it == outs.end() ? std::string("None") : format_shape(it->second)) +
                                "; the engine's output shape must follow from its input shapes");
            }
            shape = it->second;
        }
        plan.buffers.push_back({t.name, t.is_input, t.dtype, shape});
    }
    return plan;
}

}  // namespace trtmatte

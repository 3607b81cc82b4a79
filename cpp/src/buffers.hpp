// Buffer planning, as trtmatte/runtime/buffers.py: how many bytes every device and pinned host
// buffer needs so that all are allocated once, for the largest shapes the engine's optimization
// profile allows. Pure: no TensorRT, no CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trtmatte {

enum class DType { Float32, Float16, Int8, Int32, Int64, Bool, UInt8 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", ...

using Shape = std::vector<std::int64_t>;

struct TensorSpec {
    std::string name;
    bool is_input = false;
    DType dtype = DType::Float32;
    Shape shape;  // -1 where the engine leaves a dimension dynamic
};

struct BufferPlan {
    std::string name;
    bool is_input = false;
    DType dtype = DType::Float32;
    Shape max_shape;
    std::size_t nbytes() const;
};

struct IOPlan {
    std::vector<BufferPlan> buffers;
    int slots = 1;  // copies of every buffer, one per execution context
    const BufferPlan& operator[](const std::string& name) const;  // throws std::out_of_range
    std::size_t device_bytes() const;  // all I/O tensors over all slots (TensorRT's activations come on top)
    std::size_t pinned_bytes() const { return device_bytes(); }  // one staging buffer per device buffer
};

// Output shapes for given input shapes (TensorRT answers with IExecutionContext::getTensorShape).
using OutputShapes = std::function<std::map<std::string, Shape>(const std::map<std::string, Shape>&)>;

// Sizes every I/O buffer for the profile's max input shapes; throws trtmatte::Error with the
// Python planner's messages when the engine, profile and sidecar do not fit together.
IOPlan plan_io(const std::vector<TensorSpec>& tensors, const std::map<std::string, Shape>& profile_max,
               const OutputShapes& output_shapes, int slots = 1);

bool shape_fits(const Shape& shape, const Shape& lo, const Shape& hi);
std::int64_t element_count(const Shape& shape);  // product of the dims; 0 for a negative dim
std::string format_shape(const Shape& shape);    // "[1, 800, 800, 3]", as Python prints a list

}  // namespace trtmatte

// The ONNX contract every exported trtmatte graph keeps, as trtmatte/contract/names.py defines it
// (tests/cpp/test_cpp_contract.py checks that these match the Python constants).
#pragma once

namespace trtmatte::contract {

constexpr const char* kImage = "image";  // uint8 [N, H, W, 3] RGB
constexpr const char* kAlpha = "alpha";  // [N, H, W]: uint8 (x255), float16 or float32
constexpr const char* kMetadataPrefix = "trtmatte.";
constexpr const char* kVariant = "variant";
constexpr const char* kPrecision = "precision";  // absent: fp32

}  // namespace trtmatte::contract

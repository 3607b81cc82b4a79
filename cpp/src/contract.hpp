// The ONNX contract every exported trtmatte graph keeps, as trtmatte/contract/names.py defines it
// (tests/cpp/test_cpp_build.py checks that these match the Python constants).
#pragma once

namespace trtmatte::contract {

constexpr const char* kImage = "image";    // uint8 [N, H, W, 3] RGB
constexpr const char* kTrimap = "trimap";  // trimap-based families only: uint8 [N, H, W], 0 / 128 / 255
constexpr const char* kAlpha = "alpha";    // [N, H, W]: uint8 (x255), float16 or float32
constexpr const char* kMetadataPrefix = "trtmatte.";
constexpr const char* kVariant = "variant";
constexpr const char* kPrecision = "precision";  // absent: fp32
constexpr const char* kInt8Body = "int8_body";   // INT8 graphs: fp16 (made for TensorRT) or fp32
constexpr const char* kFamily = "family";        // late_fusion, adamatting (absent in graphs from before families)
constexpr const char* kInputs = "inputs";        // "image" or "image,trimap"
constexpr const char* kTrimapSource = "trimap_source";  // Late Fusion -> AdaMatting graphs: what derives the trimap

}  // namespace trtmatte::contract

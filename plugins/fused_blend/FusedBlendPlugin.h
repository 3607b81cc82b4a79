// trtmatte::FusedBlend, version "1": the fused-blend kernel (fused_blend.h) as a TensorRT IPluginV3
// (IPluginV3OneCore / IPluginV3OneBuild / IPluginV3OneRuntime) with its IPluginCreatorV3One.
//
// Inputs  fg, bg, beta: [N, 1, H, W], all FP32 or all FP16, linear (NCHW) format.
// Output  alpha:        [N, 1, H_out, W_out], FP32 or FP16 (attribute alpha_dtype).
// Attributes (PluginFields, all INT32; INT64/INT16/INT8 accepted too, as ONNX parsers differ):
//   fg_bg_logits  1: fg and bg are logits (sigmoid applied), 0: already probabilities. Default 1.
//   alpha_dtype   ONNX TensorProto code of the output: 1 = FLOAT (default), 10 = FLOAT16. 2 = UINT8
//                 is a kernel feature only: TensorRT 10 plugins cannot output kUINT8, so the creator
//                 refuses it.
//   crop_hw       2 values: keep the top-left crop_h x crop_w window; 0 0 (default) = no crop.
// See plugins/fused_blend/README.md.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trtmatte {

constexpr char const* kFusedBlendName = "FusedBlend";
constexpr char const* kFusedBlendVersion = "1";
constexpr char const* kFusedBlendNamespace = "trtmatte";

// ONNX TensorProto data type codes, as the exported node's alpha_dtype attribute carries them.
constexpr int32_t kOnnxFloat = 1;
constexpr int32_t kOnnxUint8 = 2;
constexpr int32_t kOnnxFloat16 = 10;

struct FusedBlendParams {
    int32_t fgBgLogits{1};
    int32_t alphaDtype{kOnnxFloat};
    int32_t cropHw[2]{0, 0};
};

class FusedBlendPlugin : public nvinfer1::IPluginV3,
                         public nvinfer1::IPluginV3OneCore,
                         public nvinfer1::IPluginV3OneBuild,
                         public nvinfer1::IPluginV3OneRuntime {
public:
    explicit FusedBlendPlugin(FusedBlendParams const& params);
    ~FusedBlendPlugin() override = default;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
    nvinfer1::IPluginV3* clone() noexcept override;

    // IPluginV3OneCore
    char const* getPluginName() const noexcept override { return kFusedBlendName; }
    char const* getPluginVersion() const noexcept override { return kFusedBlendVersion; }
    char const* getPluginNamespace() const noexcept override { return kFusedBlendNamespace; }

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs, nvinfer1::DataType const* inputTypes,
                               int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs, nvinfer1::DimsExprs const* shapeInputs,
                            int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                            nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                   int32_t nbOutputs) noexcept override;
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                            nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const*, int32_t, nvinfer1::DynamicPluginTensorDesc const*,
                            int32_t) const noexcept override {
        return 0;
    }

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs, nvinfer1::PluginTensorDesc const* out,
                          int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
                    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    nvinfer1::DataType outputType() const noexcept;

    FusedBlendParams mParams;
    // getFieldsToSerialize() hands TensorRT pointers into these: they live as long as the plugin.
    std::vector<nvinfer1::PluginField> mFields;
    nvinfer1::PluginFieldCollection mCollection{};
};

class FusedBlendPluginCreator : public nvinfer1::IPluginCreatorV3One {
public:
    FusedBlendPluginCreator();
    ~FusedBlendPluginCreator() override = default;

    char const* getPluginName() const noexcept override { return kFusedBlendName; }
    char const* getPluginVersion() const noexcept override { return kFusedBlendVersion; }
    char const* getPluginNamespace() const noexcept override { return kFusedBlendNamespace; }
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &mFieldNames; }
    nvinfer1::IPluginV3* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc,
                                      nvinfer1::TensorRTPhase phase) noexcept override;

    // Parses and validates the fields; false (with a logged reason) on a bad value.
    static bool parseFields(nvinfer1::PluginFieldCollection const* fc, FusedBlendParams& params) noexcept;

private:
    std::vector<nvinfer1::PluginField> mFieldInfo;
    nvinfer1::PluginFieldCollection mFieldNames{};
};

}  // namespace trtmatte

// trtmatte::FusedBlend IPluginV3 (see FusedBlendPlugin.h and plugins/fused_blend/README.md). Compiled only
// where TensorRT headers are found; the kernel it launches (fused_blend.cu) builds without them.
#include "FusedBlendPlugin.h"

#include "fused_blend.h"

#include <cstring>
#include <mutex>
#include <string>

using namespace nvinfer1;

namespace trtmatte {
namespace {

// TensorRT hands the library a logger finder through setLoggerFinder() (loadLibrary / trtexec
// --dynamicPlugins); without one, messages go nowhere rather than to stderr of a service.
std::mutex gLoggerMutex;
ILoggerFinder* gLoggerFinder{nullptr};

void logMessage(ILogger::Severity severity, std::string const& message) noexcept {
    try {
        std::lock_guard<std::mutex> lock(gLoggerMutex);
        ILogger* logger = gLoggerFinder ? gLoggerFinder->findLogger() : nullptr;
        if (logger) logger->log(severity, ("trtmatte::FusedBlend: " + message).c_str());
    } catch (...) {
    }
}

void logError(std::string const& message) noexcept { logMessage(ILogger::Severity::kERROR, message); }

// One integer from a field, whatever integer width the producer (ONNX parser, Python, C++) used.
bool fieldInt(PluginField const& field, int32_t index, int64_t& value) noexcept {
    if (field.data == nullptr || index >= field.length) return false;
    switch (field.type) {
        case PluginFieldType::kINT8: value = static_cast<int8_t const*>(field.data)[index]; return true;
        case PluginFieldType::kINT16: value = static_cast<int16_t const*>(field.data)[index]; return true;
        case PluginFieldType::kINT32: value = static_cast<int32_t const*>(field.data)[index]; return true;
        case PluginFieldType::kINT64: value = static_cast<int64_t const*>(field.data)[index]; return true;
        default: return false;
    }
}

int kernelDtype(DataType type) noexcept {
    return type == DataType::kHALF ? TRTMATTE_BLEND_FLOAT16 : TRTMATTE_BLEND_FLOAT32;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// FusedBlendPlugin

FusedBlendPlugin::FusedBlendPlugin(FusedBlendParams const& params) : mParams(params) {
    mFields.emplace_back("fg_bg_logits", &mParams.fgBgLogits, PluginFieldType::kINT32, 1);
    mFields.emplace_back("alpha_dtype", &mParams.alphaDtype, PluginFieldType::kINT32, 1);
    mFields.emplace_back("crop_hw", mParams.cropHw, PluginFieldType::kINT32, 2);
    mCollection.nbFields = static_cast<int32_t>(mFields.size());
    mCollection.fields = mFields.data();
}

IPluginCapability* FusedBlendPlugin::getCapabilityInterface(PluginCapabilityType type) noexcept {
    switch (type) {
        case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
        case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
        case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
}

IPluginV3* FusedBlendPlugin::clone() noexcept {
    try {
        return new FusedBlendPlugin(mParams);  // the constructor re-points the fields at the copy
    } catch (...) {
        return nullptr;
    }
}

DataType FusedBlendPlugin::outputType() const noexcept {
    return mParams.alphaDtype == kOnnxFloat16 ? DataType::kHALF : DataType::kFLOAT;
}

int32_t FusedBlendPlugin::getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
                                             int32_t nbInputs) const noexcept {
    if (nbOutputs != 1 || nbInputs != 3) return -1;
    if (inputTypes[0] != inputTypes[1] || inputTypes[0] != inputTypes[2]) {
        logError("fg, bg and beta must have the same data type (all FP32 or all FP16)");
        return -1;
    }
    outputTypes[0] = outputType();
    return 0;
}

int32_t FusedBlendPlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const*, int32_t,
                                          DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& exprBuilder) noexcept {
    if (nbInputs != 3 || nbOutputs != 1) return -1;
    for (int32_t i = 0; i < nbInputs; ++i) {
        if (inputs[i].nbDims != 4) {
            logError("inputs must be 4-D [N, 1, H, W]");
            return -1;
        }
    }
    outputs[0] = inputs[0];
    // A crop is a constant output size; onShapeChange/enqueue check it fits the runtime input.
    if (mParams.cropHw[0] > 0) outputs[0].d[2] = exprBuilder.constant(mParams.cropHw[0]);
    if (mParams.cropHw[1] > 0) outputs[0].d[3] = exprBuilder.constant(mParams.cropHw[1]);
    return 0;
}

bool FusedBlendPlugin::supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                                 int32_t nbOutputs) noexcept {
    if (nbInputs != 3 || nbOutputs != 1 || pos < 0 || pos >= 4) return false;
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR) return false;
    if (pos == 0) return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
    if (pos < 3) return desc.type == inOut[0].desc.type;  // one input dtype for all three
    return desc.type == outputType();
}

int32_t FusedBlendPlugin::configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs,
                                          DynamicPluginTensorDesc const*, int32_t nbOutputs) noexcept {
    if (nbInputs != 3 || nbOutputs != 1) return -1;
    for (int32_t i = 0; i < nbInputs; ++i) {
        Dims const& d = in[i].desc.dims;
        if (d.nbDims != 4 || (d.d[1] != 1 && d.d[1] != -1)) {
            logError("inputs must be [N, 1, H, W] (one channel)");
            return -1;
        }
    }
    return 0;
}

int32_t FusedBlendPlugin::onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out,
                                        int32_t nbOutputs) noexcept {
    if (nbInputs != 3 || nbOutputs != 1) return -1;
    for (int32_t i = 1; i < nbInputs; ++i) {
        for (int32_t k = 0; k < 4; ++k) {
            if (in[i].dims.d[k] != in[0].dims.d[k]) {
                logError("fg, bg and beta must have the same shape");
                return -1;
            }
        }
    }
    if (in[0].dims.d[1] != 1 || out[0].dims.d[2] > in[0].dims.d[2] || out[0].dims.d[3] > in[0].dims.d[3]) {
        logError("inputs must have one channel, and crop_hw must not exceed the input's H x W");
        return -1;
    }
    return 0;
}

int32_t FusedBlendPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
                                  void const* const* inputs, void* const* outputs, void*, cudaStream_t stream) noexcept {
    Dims const& d = inputDesc[0].dims;
    Dims const& o = outputDesc[0].dims;
    int const status = trtmatte_fused_blend(inputs[0], inputs[1], inputs[2], kernelDtype(inputDesc[0].type), outputs[0],
                                            kernelDtype(outputDesc[0].type), d.d[0], d.d[2], d.d[3], o.d[2], o.d[3],
                                            mParams.fgBgLogits, stream);
    if (status != 0) {
        logError("kernel launch failed: " + std::string(cudaGetErrorString(static_cast<cudaError_t>(status))));
        return status;
    }
    return 0;
}

IPluginV3* FusedBlendPlugin::attachToContext(IPluginResourceContext*) noexcept { return clone(); }

PluginFieldCollection const* FusedBlendPlugin::getFieldsToSerialize() noexcept { return &mCollection; }

// ------------------------------------------------------------------------------------------------
// FusedBlendPluginCreator

FusedBlendPluginCreator::FusedBlendPluginCreator() {
    mFieldInfo.emplace_back("fg_bg_logits", nullptr, PluginFieldType::kINT32, 1);
    mFieldInfo.emplace_back("alpha_dtype", nullptr, PluginFieldType::kINT32, 1);
    mFieldInfo.emplace_back("crop_hw", nullptr, PluginFieldType::kINT32, 2);
    mFieldNames.nbFields = static_cast<int32_t>(mFieldInfo.size());
    mFieldNames.fields = mFieldInfo.data();
}

bool FusedBlendPluginCreator::parseFields(PluginFieldCollection const* fc, FusedBlendParams& params) noexcept {
    if (fc == nullptr) return true;  // all defaults
    for (int32_t i = 0; i < fc->nbFields; ++i) {
        PluginField const& field = fc->fields[i];
        if (field.name == nullptr) continue;
        std::string const name(field.name);
        int64_t value = 0;
        if (name == "fg_bg_logits") {
            if (!fieldInt(field, 0, value) || (value != 0 && value != 1)) {
                logError("fg_bg_logits must be an integer 0 or 1");
                return false;
            }
            params.fgBgLogits = static_cast<int32_t>(value);
        } else if (name == "alpha_dtype") {
            if (!fieldInt(field, 0, value) || (value != kOnnxFloat && value != kOnnxFloat16 && value != kOnnxUint8)) {
                logError("alpha_dtype must be 1 (FLOAT) or 10 (FLOAT16)");
                return false;
            }
            if (value == kOnnxUint8) {
                logError("alpha_dtype 2 (UINT8) is not available inside TensorRT (plugins cannot output kUINT8): "
                         "output FLOAT or FLOAT16 and cast after the plugin");
                return false;
            }
            params.alphaDtype = static_cast<int32_t>(value);
        } else if (name == "crop_hw") {
            int64_t h = 0, w = 0;
            if (field.length != 2 || !fieldInt(field, 0, h) || !fieldInt(field, 1, w) || h < 0 || w < 0 ||
                h > INT32_MAX || w > INT32_MAX || ((h == 0) != (w == 0))) {
                logError("crop_hw must be two integers: both 0 (no crop) or both positive");
                return false;
            }
            params.cropHw[0] = static_cast<int32_t>(h);
            params.cropHw[1] = static_cast<int32_t>(w);
        }
        // Other fields are ignored: ONNX parsers may forward bookkeeping attributes.
    }
    return true;
}

IPluginV3* FusedBlendPluginCreator::createPlugin(char const*, PluginFieldCollection const* fc, TensorRTPhase) noexcept {
    try {
        FusedBlendParams params;
        if (!parseFields(fc, params)) return nullptr;
        return new FusedBlendPlugin(params);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace trtmatte

// ------------------------------------------------------------------------------------------------
// Library entry points for dynamic registration: IPluginRegistry::loadLibrary (what
// `trtmatte build --plugin` uses with standard TensorRT), trtexec --dynamicPlugins, and plans that
// serialize the library (IBuilderConfig::setPluginsToSerialize). There is deliberately no static
// registrar: one registration path avoids duplicate-creator errors when both run in one process.

extern "C" void setLoggerFinder(nvinfer1::ILoggerFinder* finder) {
    std::lock_guard<std::mutex> lock(trtmatte::gLoggerMutex);
    trtmatte::gLoggerFinder = finder;
}

extern "C" nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static trtmatte::FusedBlendPluginCreator creator;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&creator};
    nbCreators = 1;
    return creators;
}

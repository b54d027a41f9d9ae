// memmatte's own declarations of the parts of the OpenFX 1.4 C API the plug-in uses.
//
// Written from the published OpenFX standard (openeffects.org, "OpenFX Programming
// Reference"): the ABI is fixed by the standard, so the structs below list the suite
// functions in the standard's order with its argument types, and the strings are the
// standard's property, action and value names. Only what memmatte needs is declared.

#pragma once

#include <cstddef>

extern "C" {

// ---- core ------------------------------------------------------------------------------

typedef int OfxStatus;
typedef double OfxTime;
typedef struct OfxPropertySetStruct* OfxPropertySetHandle;
typedef struct OfxParamSetStruct* OfxParamSetHandle;
typedef struct OfxParamStruct* OfxParamHandle;
typedef struct OfxImageEffectStruct* OfxImageEffectHandle;
typedef struct OfxImageClipStruct* OfxImageClipHandle;
typedef struct OfxImageMemoryStruct* OfxImageMemoryHandle;
typedef void* OfxMutexHandle;

struct OfxRectD {
  double x1, y1, x2, y2;
};
struct OfxRectI {
  int x1, y1, x2, y2;
};
struct OfxRangeD {
  double min, max;
};

struct OfxHost {
  OfxPropertySetHandle host;
  const void* (*fetchSuite)(OfxPropertySetHandle host, const char* suiteName, int suiteVersion);
};

typedef OfxStatus(OfxPluginEntryPoint)(const char* action, const void* handle,
                                       OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs);

struct OfxPlugin {
  const char* pluginApi;
  int apiVersion;
  const char* pluginIdentifier;
  unsigned int pluginVersionMajor;
  unsigned int pluginVersionMinor;
  void (*setHost)(OfxHost* host);
  OfxPluginEntryPoint* mainEntry;
};

// ---- suites ----------------------------------------------------------------------------

struct OfxPropertySuiteV1 {
  OfxStatus (*propSetPointer)(OfxPropertySetHandle, const char* property, int index, void* value);
  OfxStatus (*propSetString)(OfxPropertySetHandle, const char* property, int index,
                             const char* value);
  OfxStatus (*propSetDouble)(OfxPropertySetHandle, const char* property, int index, double value);
  OfxStatus (*propSetInt)(OfxPropertySetHandle, const char* property, int index, int value);
  OfxStatus (*propSetPointerN)(OfxPropertySetHandle, const char* property, int count,
                               void* const* value);
  OfxStatus (*propSetStringN)(OfxPropertySetHandle, const char* property, int count,
                              const char* const* value);
  OfxStatus (*propSetDoubleN)(OfxPropertySetHandle, const char* property, int count,
                              const double* value);
  OfxStatus (*propSetIntN)(OfxPropertySetHandle, const char* property, int count,
                           const int* value);
  OfxStatus (*propGetPointer)(OfxPropertySetHandle, const char* property, int index, void** value);
  OfxStatus (*propGetString)(OfxPropertySetHandle, const char* property, int index, char** value);
  OfxStatus (*propGetDouble)(OfxPropertySetHandle, const char* property, int index, double* value);
  OfxStatus (*propGetInt)(OfxPropertySetHandle, const char* property, int index, int* value);
  OfxStatus (*propGetPointerN)(OfxPropertySetHandle, const char* property, int count,
                               void** value);
  OfxStatus (*propGetStringN)(OfxPropertySetHandle, const char* property, int count,
                              char** value);
  OfxStatus (*propGetDoubleN)(OfxPropertySetHandle, const char* property, int count,
                              double* value);
  OfxStatus (*propGetIntN)(OfxPropertySetHandle, const char* property, int count, int* value);
  OfxStatus (*propReset)(OfxPropertySetHandle, const char* property);
  OfxStatus (*propGetDimension)(OfxPropertySetHandle, const char* property, int* count);
};

struct OfxImageEffectSuiteV1 {
  OfxStatus (*getPropertySet)(OfxImageEffectHandle, OfxPropertySetHandle* propHandle);
  OfxStatus (*getParamSet)(OfxImageEffectHandle, OfxParamSetHandle* paramSet);
  OfxStatus (*clipDefine)(OfxImageEffectHandle, const char* name,
                          OfxPropertySetHandle* propertySet);
  OfxStatus (*clipGetHandle)(OfxImageEffectHandle, const char* name, OfxImageClipHandle* clip,
                             OfxPropertySetHandle* propertySet);
  OfxStatus (*clipGetPropertySet)(OfxImageClipHandle, OfxPropertySetHandle* propHandle);
  OfxStatus (*clipGetImage)(OfxImageClipHandle, OfxTime time, const OfxRectD* region,
                            OfxPropertySetHandle* imageHandle);
  OfxStatus (*clipReleaseImage)(OfxPropertySetHandle imageHandle);
  OfxStatus (*clipGetRegionOfDefinition)(OfxImageClipHandle, OfxTime time, OfxRectD* bounds);
  int (*abort)(OfxImageEffectHandle);
  OfxStatus (*imageMemoryAlloc)(OfxImageEffectHandle instanceHandle, size_t nBytes,
                                OfxImageMemoryHandle* memoryHandle);
  OfxStatus (*imageMemoryFree)(OfxImageMemoryHandle);
  OfxStatus (*imageMemoryLock)(OfxImageMemoryHandle, void** returnedPtr);
  OfxStatus (*imageMemoryUnlock)(OfxImageMemoryHandle);
};

struct OfxParameterSuiteV1 {
  OfxStatus (*paramDefine)(OfxParamSetHandle, const char* paramType, const char* name,
                           OfxPropertySetHandle* propertySet);
  OfxStatus (*paramGetHandle)(OfxParamSetHandle, const char* name, OfxParamHandle* param,
                              OfxPropertySetHandle* propertySet);
  OfxStatus (*paramSetGetPropertySet)(OfxParamSetHandle, OfxPropertySetHandle* propHandle);
  OfxStatus (*paramGetPropertySet)(OfxParamHandle, OfxPropertySetHandle* propHandle);
  OfxStatus (*paramGetValue)(OfxParamHandle, ...);
  OfxStatus (*paramGetValueAtTime)(OfxParamHandle, OfxTime time, ...);
  OfxStatus (*paramGetDerivative)(OfxParamHandle, OfxTime time, ...);
  OfxStatus (*paramGetIntegral)(OfxParamHandle, OfxTime time1, OfxTime time2, ...);
  OfxStatus (*paramSetValue)(OfxParamHandle, ...);
  OfxStatus (*paramSetValueAtTime)(OfxParamHandle, OfxTime time, ...);
  OfxStatus (*paramGetNumKeys)(OfxParamHandle, unsigned int* numberOfKeys);
  OfxStatus (*paramGetKeyTime)(OfxParamHandle, unsigned int nthKey, OfxTime* time);
  OfxStatus (*paramGetKeyIndex)(OfxParamHandle, OfxTime time, int direction, int* index);
  OfxStatus (*paramDeleteKey)(OfxParamHandle, OfxTime time);
  OfxStatus (*paramDeleteAllKeys)(OfxParamHandle);
  OfxStatus (*paramCopy)(OfxParamHandle to, OfxParamHandle from, OfxTime dstOffset,
                         const OfxRangeD* frameRange);
  OfxStatus (*paramEditBegin)(OfxParamSetHandle, const char* name);
  OfxStatus (*paramEditEnd)(OfxParamSetHandle);
};

struct OfxMemorySuiteV1 {
  OfxStatus (*memoryAlloc)(void* handle, size_t nBytes, void** allocatedData);
  OfxStatus (*memoryFree)(void* allocatedData);
};

typedef void(OfxThreadFunctionV1)(unsigned int threadIndex, unsigned int threadMax,
                                  void* customArg);

struct OfxMultiThreadSuiteV1 {
  OfxStatus (*multiThread)(OfxThreadFunctionV1 func, unsigned int nThreads, void* customArg);
  OfxStatus (*multiThreadNumCPUs)(unsigned int* nCPUs);
  OfxStatus (*multiThreadIndex)(unsigned int* threadIndex);
  int (*multiThreadIsSpawnedThread)(void);
  OfxStatus (*mutexCreate)(OfxMutexHandle* mutex, int lockCount);
  OfxStatus (*mutexDestroy)(const OfxMutexHandle mutex);
  OfxStatus (*mutexLock)(const OfxMutexHandle mutex);
  OfxStatus (*mutexUnLock)(const OfxMutexHandle mutex);
  OfxStatus (*mutexTryLock)(const OfxMutexHandle mutex);
};

struct OfxMessageSuiteV1 {
  OfxStatus (*message)(void* handle, const char* messageType, const char* messageId,
                       const char* format, ...);
};

}  // extern "C"

namespace ofx {

// Status codes.
constexpr OfxStatus kStatOK = 0;
constexpr OfxStatus kStatFailed = 1;
constexpr OfxStatus kStatErrFatal = 2;
constexpr OfxStatus kStatErrUnknown = 3;
constexpr OfxStatus kStatErrMissingHostFeature = 4;
constexpr OfxStatus kStatErrUnsupported = 5;
constexpr OfxStatus kStatErrExists = 6;
constexpr OfxStatus kStatErrFormat = 7;
constexpr OfxStatus kStatErrMemory = 8;
constexpr OfxStatus kStatErrBadHandle = 9;
constexpr OfxStatus kStatErrBadIndex = 10;
constexpr OfxStatus kStatErrValue = 11;
constexpr OfxStatus kStatReplyDefault = 14;

// Plug-in API and suites.
constexpr const char* kImageEffectPluginApi = "OfxImageEffectPluginAPI";
constexpr int kImageEffectPluginApiVersion = 1;
constexpr const char* kPropertySuite = "OfxPropertySuite";
constexpr const char* kImageEffectSuite = "OfxImageEffectSuite";
constexpr const char* kParameterSuite = "OfxParameterSuite";
constexpr const char* kMemorySuite = "OfxMemorySuite";
constexpr const char* kMultiThreadSuite = "OfxMultiThreadSuite";
constexpr const char* kMessageSuite = "OfxMessageSuite";

// Actions.
constexpr const char* kActionLoad = "OfxActionLoad";
constexpr const char* kActionUnload = "OfxActionUnload";
constexpr const char* kActionDescribe = "OfxActionDescribe";
constexpr const char* kActionCreateInstance = "OfxActionCreateInstance";
constexpr const char* kActionDestroyInstance = "OfxActionDestroyInstance";
constexpr const char* kActionDescribeInContext = "OfxImageEffectActionDescribeInContext";
constexpr const char* kActionGetRegionOfDefinition = "OfxImageEffectActionGetRegionOfDefinition";
constexpr const char* kActionGetRegionsOfInterest = "OfxImageEffectActionGetRegionsOfInterest";
constexpr const char* kActionGetFramesNeeded = "OfxImageEffectActionGetFramesNeeded";
constexpr const char* kActionGetClipPreferences = "OfxImageEffectActionGetClipPreferences";
constexpr const char* kActionRender = "OfxImageEffectActionRender";

// General properties.
constexpr const char* kPropType = "OfxPropType";
constexpr const char* kPropName = "OfxPropName";
constexpr const char* kPropLabel = "OfxPropLabel";
constexpr const char* kPropTime = "OfxPropTime";
constexpr const char* kPropInstanceData = "OfxPropInstanceData";
constexpr const char* kPropPluginDescription = "OfxPropPluginDescription";
constexpr const char* kPluginPropFilePath = "OfxPluginPropFilePath";

// Image effect descriptor and instance properties.
constexpr const char* kImageEffectPluginPropGrouping = "OfxImageEffectPluginPropGrouping";
constexpr const char* kImageEffectPropSupportedContexts = "OfxImageEffectPropSupportedContexts";
constexpr const char* kImageEffectPropContext = "OfxImageEffectPropContext";
constexpr const char* kImageEffectContextFilter = "OfxImageEffectContextFilter";
constexpr const char* kImageEffectContextGeneral = "OfxImageEffectContextGeneral";
constexpr const char* kImageEffectPropSupportedPixelDepths =
    "OfxImageEffectPropSupportedPixelDepths";
constexpr const char* kImageEffectPropSupportsMultipleClipDepths =
    "OfxImageEffectPropSupportsMultipleClipDepths";
constexpr const char* kImageEffectPropSupportsMultiResolution =
    "OfxImageEffectPropSupportsMultiResolution";
constexpr const char* kImageEffectPropSupportsTiles = "OfxImageEffectPropSupportsTiles";
constexpr const char* kImageEffectPropTemporalClipAccess = "OfxImageEffectPropTemporalClipAccess";
constexpr const char* kImageEffectPluginRenderThreadSafety =
    "OfxImageEffectPluginRenderThreadSafety";
constexpr const char* kImageEffectRenderFullySafe = "OfxImageEffectRenderFullySafe";
constexpr const char* kImageEffectPluginPropHostFrameThreading =
    "OfxImageEffectPluginPropHostFrameThreading";

// Clips.
constexpr const char* kSourceClipName = "Source";
constexpr const char* kOutputClipName = "Output";
constexpr const char* kImageEffectPropSupportedComponents = "OfxImageEffectPropSupportedComponents";
constexpr const char* kImageEffectPropComponents = "OfxImageEffectPropComponents";
constexpr const char* kImageEffectPropPixelDepth = "OfxImageEffectPropPixelDepth";
constexpr const char* kImageEffectPropFrameRange = "OfxImageEffectPropFrameRange";
constexpr const char* kImageEffectPropPreMultiplication = "OfxImageEffectPropPreMultiplication";
constexpr const char* kImageComponentRGBA = "OfxImageComponentRGBA";
constexpr const char* kImageComponentRGB = "OfxImageComponentRGB";
constexpr const char* kImagePreMultiplied = "OfxImagePreMultiplied";
constexpr const char* kImageUnPreMultiplied = "OfxImageUnPreMultiplied";
constexpr const char* kBitDepthByte = "OfxBitDepthByte";
constexpr const char* kBitDepthShort = "OfxBitDepthShort";
constexpr const char* kBitDepthFloat = "OfxBitDepthFloat";
// Action out-argument prefixes; the clip's name is appended.
constexpr const char* kClipPropFrameRangePrefix = "OfxImageClipPropFrameRange_";
constexpr const char* kClipPropRoIPrefix = "OfxImageClipPropRoI_";
constexpr const char* kClipPropComponentsPrefix = "OfxImageClipPropComponents_";

// Images and render arguments.
constexpr const char* kImagePropData = "OfxImagePropData";
constexpr const char* kImagePropBounds = "OfxImagePropBounds";
constexpr const char* kImagePropRowBytes = "OfxImagePropRowBytes";
constexpr const char* kImageEffectPropRenderWindow = "OfxImageEffectPropRenderWindow";
constexpr const char* kImageEffectPropRegionOfInterest = "OfxImageEffectPropRegionOfInterest";
constexpr const char* kImageEffectPropRenderScale = "OfxImageEffectPropRenderScale";

// Parameters.
constexpr const char* kParamTypeChoice = "OfxParamTypeChoice";
constexpr const char* kParamTypeDouble = "OfxParamTypeDouble";
constexpr const char* kParamTypeString = "OfxParamTypeString";
constexpr const char* kParamPropDefault = "OfxParamPropDefault";
constexpr const char* kParamPropHint = "OfxParamPropHint";
constexpr const char* kParamPropChoiceOption = "OfxParamPropChoiceOption";
constexpr const char* kParamPropMin = "OfxParamPropMin";
constexpr const char* kParamPropMax = "OfxParamPropMax";
constexpr const char* kParamPropDisplayMin = "OfxParamPropDisplayMin";
constexpr const char* kParamPropDisplayMax = "OfxParamPropDisplayMax";
constexpr const char* kParamPropAnimates = "OfxParamPropAnimates";
constexpr const char* kParamPropStringMode = "OfxParamPropStringMode";
constexpr const char* kParamStringIsFilePath = "OfxParamStringIsFilePath";
constexpr const char* kParamPropStringFilePathExists = "OfxParamPropStringFilePathExists";

// Messages.
constexpr const char* kMessageError = "OfxMessageError";

}  // namespace ofx

// memmatte's own declarations of the parts of the OpenFX C API the plug-in uses.
//
// Written from the published OpenFX standard (github.com/AcademySoftwareFoundation/openfx,
// include/): the ABI is fixed by the standard, so the structs below list the suite functions
// in the standard's order with its argument types, each constant carries the standard's macro
// name and value, and the typedefs name the standard's types. Only what memmatte needs is
// declared. tests/hosts/ofx/test_facts.py holds every declaration here to the facts in
// hosts/ofx/facts.py (name, official value, header).

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
typedef struct OfxMutex* OfxMutexHandle;

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
constexpr OfxStatus kOfxStatOK = 0;
constexpr OfxStatus kOfxStatFailed = 1;
constexpr OfxStatus kOfxStatErrFatal = 2;
constexpr OfxStatus kOfxStatErrUnknown = 3;
constexpr OfxStatus kOfxStatErrMissingHostFeature = 4;
constexpr OfxStatus kOfxStatErrUnsupported = 5;
constexpr OfxStatus kOfxStatErrExists = 6;
constexpr OfxStatus kOfxStatErrFormat = 7;
constexpr OfxStatus kOfxStatErrMemory = 8;
constexpr OfxStatus kOfxStatErrBadHandle = 9;
constexpr OfxStatus kOfxStatErrBadIndex = 10;
constexpr OfxStatus kOfxStatErrValue = 11;
constexpr OfxStatus kOfxStatReplyDefault = 14;

// Plug-in API and suites.
constexpr const char* kOfxImageEffectPluginApi = "OfxImageEffectPluginAPI";
constexpr int kOfxImageEffectPluginApiVersion = 1;
constexpr const char* kOfxPropertySuite = "OfxPropertySuite";
constexpr const char* kOfxImageEffectSuite = "OfxImageEffectSuite";
constexpr const char* kOfxParameterSuite = "OfxParameterSuite";
constexpr const char* kOfxMemorySuite = "OfxMemorySuite";
constexpr const char* kOfxMultiThreadSuite = "OfxMultiThreadSuite";
constexpr const char* kOfxMessageSuite = "OfxMessageSuite";

// Actions.
constexpr const char* kOfxActionLoad = "OfxActionLoad";
constexpr const char* kOfxActionUnload = "OfxActionUnload";
constexpr const char* kOfxActionDescribe = "OfxActionDescribe";
constexpr const char* kOfxActionCreateInstance = "OfxActionCreateInstance";
constexpr const char* kOfxActionDestroyInstance = "OfxActionDestroyInstance";
constexpr const char* kOfxImageEffectActionDescribeInContext = "OfxImageEffectActionDescribeInContext";
constexpr const char* kOfxImageEffectActionGetRegionOfDefinition = "OfxImageEffectActionGetRegionOfDefinition";
constexpr const char* kOfxImageEffectActionGetRegionsOfInterest = "OfxImageEffectActionGetRegionsOfInterest";
constexpr const char* kOfxImageEffectActionGetFramesNeeded = "OfxImageEffectActionGetFramesNeeded";
constexpr const char* kOfxImageEffectActionGetClipPreferences = "OfxImageEffectActionGetClipPreferences";
constexpr const char* kOfxImageEffectActionRender = "OfxImageEffectActionRender";

// General properties.
constexpr const char* kOfxPropType = "OfxPropType";
constexpr const char* kOfxPropName = "OfxPropName";
constexpr const char* kOfxPropLabel = "OfxPropLabel";
constexpr const char* kOfxPropTime = "OfxPropTime";
constexpr const char* kOfxPropInstanceData = "OfxPropInstanceData";
constexpr const char* kOfxPropPluginDescription = "OfxPropPluginDescription";
constexpr const char* kOfxPluginPropFilePath = "OfxPluginPropFilePath";

// Image effect descriptor and instance properties.
constexpr const char* kOfxImageEffectPluginPropGrouping = "OfxImageEffectPluginPropGrouping";
constexpr const char* kOfxImageEffectPropSupportedContexts = "OfxImageEffectPropSupportedContexts";
constexpr const char* kOfxImageEffectPropContext = "OfxImageEffectPropContext";
constexpr const char* kOfxImageEffectContextFilter = "OfxImageEffectContextFilter";
constexpr const char* kOfxImageEffectContextGeneral = "OfxImageEffectContextGeneral";
constexpr const char* kOfxImageEffectPropSupportedPixelDepths =
    "OfxImageEffectPropSupportedPixelDepths";
constexpr const char* kOfxImageEffectPropSupportsMultipleClipDepths =
    "OfxImageEffectPropMultipleClipDepths";
constexpr const char* kOfxImageEffectPropSupportsMultiResolution =
    "OfxImageEffectPropSupportsMultiResolution";
constexpr const char* kOfxImageEffectPropSupportsTiles = "OfxImageEffectPropSupportsTiles";
constexpr const char* kOfxImageEffectPropTemporalClipAccess = "OfxImageEffectPropTemporalClipAccess";
constexpr const char* kOfxImageEffectPluginRenderThreadSafety =
    "OfxImageEffectPluginRenderThreadSafety";
constexpr const char* kOfxImageEffectRenderFullySafe = "OfxImageEffectRenderFullySafe";
constexpr const char* kOfxImageEffectPluginPropHostFrameThreading =
    "OfxImageEffectPluginPropHostFrameThreading";

// Clips.
constexpr const char* kOfxImageEffectSimpleSourceClipName = "Source";
constexpr const char* kOfxImageEffectOutputClipName = "Output";
constexpr const char* kOfxImageEffectPropSupportedComponents = "OfxImageEffectPropSupportedComponents";
constexpr const char* kOfxImageEffectPropComponents = "OfxImageEffectPropComponents";
constexpr const char* kOfxImageEffectPropPixelDepth = "OfxImageEffectPropPixelDepth";
constexpr const char* kOfxImageEffectPropFrameRange = "OfxImageEffectPropFrameRange";
constexpr const char* kOfxImageEffectPropPreMultiplication = "OfxImageEffectPropPreMultiplication";
constexpr const char* kOfxImageComponentRGBA = "OfxImageComponentRGBA";
constexpr const char* kOfxImageComponentRGB = "OfxImageComponentRGB";
constexpr const char* kOfxImageOpaque = "OfxImageOpaque";
constexpr const char* kOfxImagePreMultiplied = "OfxImageAlphaPremultiplied";
constexpr const char* kOfxImageUnPreMultiplied = "OfxImageAlphaUnPremultiplied";
constexpr const char* kOfxBitDepthByte = "OfxBitDepthByte";
constexpr const char* kOfxBitDepthShort = "OfxBitDepthShort";
constexpr const char* kOfxBitDepthFloat = "OfxBitDepthFloat";
// Action out-argument prefixes; the clip's name is appended.
constexpr const char* kClipPropFrameRangePrefix = "OfxImageClipPropFrameRange_";
constexpr const char* kClipPropRoIPrefix = "OfxImageClipPropRoI_";
constexpr const char* kClipPropComponentsPrefix = "OfxImageClipPropComponents_";

// Images and render arguments.
constexpr const char* kOfxImagePropData = "OfxImagePropData";
constexpr const char* kOfxImagePropBounds = "OfxImagePropBounds";
constexpr const char* kOfxImagePropRowBytes = "OfxImagePropRowBytes";
constexpr const char* kOfxImageEffectPropRenderWindow = "OfxImageEffectPropRenderWindow";
constexpr const char* kOfxImageEffectPropRegionOfInterest = "OfxImageEffectPropRegionOfInterest";
constexpr const char* kOfxImageEffectPropRenderScale = "OfxImageEffectPropRenderScale";

// Parameters.
constexpr const char* kOfxParamTypeChoice = "OfxParamTypeChoice";
constexpr const char* kOfxParamTypeDouble = "OfxParamTypeDouble";
constexpr const char* kOfxParamTypeString = "OfxParamTypeString";
constexpr const char* kOfxParamPropDefault = "OfxParamPropDefault";
constexpr const char* kOfxParamPropHint = "OfxParamPropHint";
constexpr const char* kOfxParamPropChoiceOption = "OfxParamPropChoiceOption";
constexpr const char* kOfxParamPropMin = "OfxParamPropMin";
constexpr const char* kOfxParamPropMax = "OfxParamPropMax";
constexpr const char* kOfxParamPropDisplayMin = "OfxParamPropDisplayMin";
constexpr const char* kOfxParamPropDisplayMax = "OfxParamPropDisplayMax";
constexpr const char* kOfxParamPropAnimates = "OfxParamPropAnimates";
constexpr const char* kOfxParamPropStringMode = "OfxParamPropStringMode";
constexpr const char* kOfxParamStringIsFilePath = "OfxParamStringIsFilePath";
constexpr const char* kOfxParamPropStringFilePathExists = "OfxParamPropStringFilePathExists";

// Messages.
constexpr const char* kOfxMessageError = "OfxMessageError";
constexpr const char* kOfxMessageLog = "OfxMessageLog";

}  // namespace ofx

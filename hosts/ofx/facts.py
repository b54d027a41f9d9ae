"""Facts about the OpenFX standard that memmatte's plug-in and minihost rely on: each name
with its official value and the header of the standard that defines it.

Written for memmatte from the official headers (github.com/AcademySoftwareFoundation/openfx,
``include/``, OpenFX 1.5.1; the same values since the release that introduced each name).
``tests/hosts/ofx/test_facts.py`` holds every constant, struct and typedef that
``src/ofx_api.h`` declares to these facts, and checks the facts themselves against a fetched
copy of the official headers when ``MEMMATTE_OPENFX_SOURCE`` names one. The minihost
(``minihost.py``) speaks these values, so it cannot share a mistake with the plug-in's header.
"""

from __future__ import annotations

from types import SimpleNamespace

# (macro, value, header)
# fmt: off
CONSTANTS: list[tuple[str, int | str, str]] = [
    # ofxCore.h
    ("kOfxStatOK", 0, "ofxCore.h"),
    ("kOfxStatFailed", 1, "ofxCore.h"),
    ("kOfxStatErrFatal", 2, "ofxCore.h"),
    ("kOfxStatErrUnknown", 3, "ofxCore.h"),
    ("kOfxStatErrMissingHostFeature", 4, "ofxCore.h"),
    ("kOfxStatErrUnsupported", 5, "ofxCore.h"),
    ("kOfxStatErrExists", 6, "ofxCore.h"),
    ("kOfxStatErrFormat", 7, "ofxCore.h"),
    ("kOfxStatErrMemory", 8, "ofxCore.h"),
    ("kOfxStatErrBadHandle", 9, "ofxCore.h"),
    ("kOfxStatErrBadIndex", 10, "ofxCore.h"),
    ("kOfxStatErrValue", 11, "ofxCore.h"),
    ("kOfxStatReplyDefault", 14, "ofxCore.h"),
    ("kOfxActionLoad", "OfxActionLoad", "ofxCore.h"),
    ("kOfxActionUnload", "OfxActionUnload", "ofxCore.h"),
    ("kOfxActionDescribe", "OfxActionDescribe", "ofxCore.h"),
    ("kOfxActionCreateInstance", "OfxActionCreateInstance", "ofxCore.h"),
    ("kOfxActionDestroyInstance", "OfxActionDestroyInstance", "ofxCore.h"),
    ("kOfxPropType", "OfxPropType", "ofxCore.h"),
    ("kOfxPropName", "OfxPropName", "ofxCore.h"),
    ("kOfxPropLabel", "OfxPropLabel", "ofxCore.h"),
    ("kOfxPropTime", "OfxPropTime", "ofxCore.h"),
    ("kOfxPropInstanceData", "OfxPropInstanceData", "ofxCore.h"),
    ("kOfxPropPluginDescription", "OfxPropPluginDescription", "ofxCore.h"),
    ("kOfxPluginPropFilePath", "OfxPluginPropFilePath", "ofxCore.h"),
    ("kOfxBitDepthByte", "OfxBitDepthByte", "ofxCore.h"),
    ("kOfxBitDepthShort", "OfxBitDepthShort", "ofxCore.h"),
    ("kOfxBitDepthFloat", "OfxBitDepthFloat", "ofxCore.h"),
    ("kOfxBitDepthHalf", "OfxBitDepthHalf", "ofxCore.h"),
    # ofxImageEffect.h
    ("kOfxImageEffectPluginApi", "OfxImageEffectPluginAPI", "ofxImageEffect.h"),
    ("kOfxImageEffectPluginApiVersion", 1, "ofxImageEffect.h"),
    ("kOfxImageEffectSuite", "OfxImageEffectSuite", "ofxImageEffect.h"),
    ("kOfxImageEffectActionDescribeInContext", "OfxImageEffectActionDescribeInContext", "ofxImageEffect.h"),
    ("kOfxImageEffectActionGetRegionOfDefinition", "OfxImageEffectActionGetRegionOfDefinition", "ofxImageEffect.h"),
    ("kOfxImageEffectActionGetRegionsOfInterest", "OfxImageEffectActionGetRegionsOfInterest", "ofxImageEffect.h"),
    ("kOfxImageEffectActionGetFramesNeeded", "OfxImageEffectActionGetFramesNeeded", "ofxImageEffect.h"),
    ("kOfxImageEffectActionGetClipPreferences", "OfxImageEffectActionGetClipPreferences", "ofxImageEffect.h"),
    ("kOfxImageEffectActionRender", "OfxImageEffectActionRender", "ofxImageEffect.h"),
    ("kOfxImageEffectPluginPropGrouping", "OfxImageEffectPluginPropGrouping", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportedContexts", "OfxImageEffectPropSupportedContexts", "ofxImageEffect.h"),
    ("kOfxImageEffectPropContext", "OfxImageEffectPropContext", "ofxImageEffect.h"),
    ("kOfxImageEffectContextFilter", "OfxImageEffectContextFilter", "ofxImageEffect.h"),
    ("kOfxImageEffectContextGeneral", "OfxImageEffectContextGeneral", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportedPixelDepths", "OfxImageEffectPropSupportedPixelDepths", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportsMultipleClipDepths", "OfxImageEffectPropMultipleClipDepths", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportsMultiResolution", "OfxImageEffectPropSupportsMultiResolution", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportsTiles", "OfxImageEffectPropSupportsTiles", "ofxImageEffect.h"),
    ("kOfxImageEffectPropTemporalClipAccess", "OfxImageEffectPropTemporalClipAccess", "ofxImageEffect.h"),
    ("kOfxImageEffectPluginRenderThreadSafety", "OfxImageEffectPluginRenderThreadSafety", "ofxImageEffect.h"),
    ("kOfxImageEffectRenderFullySafe", "OfxImageEffectRenderFullySafe", "ofxImageEffect.h"),
    ("kOfxImageEffectPluginPropHostFrameThreading", "OfxImageEffectPluginPropHostFrameThreading", "ofxImageEffect.h"),
    ("kOfxImageEffectSimpleSourceClipName", "Source", "ofxImageEffect.h"),
    ("kOfxImageEffectOutputClipName", "Output", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSupportedComponents", "OfxImageEffectPropSupportedComponents", "ofxImageEffect.h"),
    ("kOfxImageEffectPropComponents", "OfxImageEffectPropComponents", "ofxImageEffect.h"),
    ("kOfxImageEffectPropPixelDepth", "OfxImageEffectPropPixelDepth", "ofxImageEffect.h"),
    ("kOfxImageEffectPropFrameRange", "OfxImageEffectPropFrameRange", "ofxImageEffect.h"),
    ("kOfxImageEffectPropPreMultiplication", "OfxImageEffectPropPreMultiplication", "ofxImageEffect.h"),
    ("kOfxImageComponentRGBA", "OfxImageComponentRGBA", "ofxImageEffect.h"),
    ("kOfxImageComponentRGB", "OfxImageComponentRGB", "ofxImageEffect.h"),
    ("kOfxImageOpaque", "OfxImageOpaque", "ofxImageEffect.h"),
    ("kOfxImagePreMultiplied", "OfxImageAlphaPremultiplied", "ofxImageEffect.h"),
    ("kOfxImageUnPreMultiplied", "OfxImageAlphaUnPremultiplied", "ofxImageEffect.h"),
    ("kOfxImagePropData", "OfxImagePropData", "ofxImageEffect.h"),
    ("kOfxImagePropBounds", "OfxImagePropBounds", "ofxImageEffect.h"),
    ("kOfxImagePropRowBytes", "OfxImagePropRowBytes", "ofxImageEffect.h"),
    ("kOfxImageEffectPropRenderWindow", "OfxImageEffectPropRenderWindow", "ofxImageEffect.h"),
    ("kOfxImageEffectPropRegionOfInterest", "OfxImageEffectPropRegionOfInterest", "ofxImageEffect.h"),
    ("kOfxImageEffectPropRenderScale", "OfxImageEffectPropRenderScale", "ofxImageEffect.h"),
    ("kOfxImageEffectHostPropIsBackground", "OfxImageEffectHostPropIsBackground", "ofxImageEffect.h"),
    ("kOfxTypeImageEffect", "OfxTypeImageEffect", "ofxImageEffect.h"),
    ("kOfxImagePropPixelAspectRatio", "OfxImagePropPixelAspectRatio", "ofxImageEffect.h"),
    ("kOfxImageClipPropConnected", "OfxImageClipPropConnected", "ofxImageEffect.h"),
    ("kOfxImageEffectPropFieldToRender", "OfxImageEffectPropFieldToRender", "ofxImageEffect.h"),
    ("kOfxImageFieldNone", "OfxFieldNone", "ofxImageEffect.h"),
    ("kOfxImageEffectPropSequentialRenderStatus", "OfxImageEffectPropSequentialRenderStatus", "ofxImageEffect.h"),
    ("kOfxImageEffectPropInteractiveRenderStatus", "OfxImageEffectPropInteractiveRenderStatus", "ofxImageEffect.h"),
    # ofxProperty.h
    ("kOfxPropertySuite", "OfxPropertySuite", "ofxProperty.h"),
    # ofxParam.h
    ("kOfxParameterSuite", "OfxParameterSuite", "ofxParam.h"),
    ("kOfxParamTypeChoice", "OfxParamTypeChoice", "ofxParam.h"),
    ("kOfxParamTypeDouble", "OfxParamTypeDouble", "ofxParam.h"),
    ("kOfxParamTypeString", "OfxParamTypeString", "ofxParam.h"),
    ("kOfxParamPropDefault", "OfxParamPropDefault", "ofxParam.h"),
    ("kOfxParamPropHint", "OfxParamPropHint", "ofxParam.h"),
    ("kOfxParamPropChoiceOption", "OfxParamPropChoiceOption", "ofxParam.h"),
    ("kOfxParamPropMin", "OfxParamPropMin", "ofxParam.h"),
    ("kOfxParamPropMax", "OfxParamPropMax", "ofxParam.h"),
    ("kOfxParamPropDisplayMin", "OfxParamPropDisplayMin", "ofxParam.h"),
    ("kOfxParamPropDisplayMax", "OfxParamPropDisplayMax", "ofxParam.h"),
    ("kOfxParamPropAnimates", "OfxParamPropAnimates", "ofxParam.h"),
    ("kOfxParamPropStringMode", "OfxParamPropStringMode", "ofxParam.h"),
    ("kOfxParamStringIsFilePath", "OfxParamStringIsFilePath", "ofxParam.h"),
    ("kOfxParamPropStringFilePathExists", "OfxParamPropStringFilePathExists", "ofxParam.h"),
    ("kOfxParamTypeInteger", "OfxParamTypeInteger", "ofxParam.h"),
    ("kOfxParamTypeBoolean", "OfxParamTypeBoolean", "ofxParam.h"),
    # ofxMemory.h
    ("kOfxMemorySuite", "OfxMemorySuite", "ofxMemory.h"),
    # ofxMultiThread.h
    ("kOfxMultiThreadSuite", "OfxMultiThreadSuite", "ofxMultiThread.h"),
    # ofxMessage.h
    ("kOfxMessageSuite", "OfxMessageSuite", "ofxMessage.h"),
    ("kOfxMessageError", "OfxMessageError", "ofxMessage.h"),
    ("kOfxMessageLog", "OfxMessageLog", "ofxMessage.h"),
    ("kOfxMessageWarning", "OfxMessageWarning", "ofxMessage.h"),
]
# fmt: on

# Strings the standard documents in prose rather than as macros: (memmatte's name, value,
# header, where it is described). An action's out-argument is the prefix + the clip's name.
DOCUMENTED: list[tuple[str, str, str, str]] = [
    ("kClipPropFrameRangePrefix", "OfxImageClipPropFrameRange_", "ofxImageEffect.h",
     "kOfxImageEffectActionGetFramesNeeded"),
    ("kClipPropRoIPrefix", "OfxImageClipPropRoI_", "ofxImageEffect.h",
     "kOfxImageEffectActionGetRegionsOfInterest"),
    ("kClipPropComponentsPrefix", "OfxImageClipPropComponents_", "ofxImageEffect.h",
     "kOfxImageEffectActionGetClipPreferences"),
]  # fmt: skip

# typedef name: (what it names, header)
TYPEDEFS: dict[str, tuple[str, str]] = {
    "OfxStatus": ("int", "ofxCore.h"),
    "OfxTime": ("double", "ofxCore.h"),
    "OfxPropertySetHandle": ("struct OfxPropertySetStruct *", "ofxCore.h"),
    "OfxImageEffectHandle": ("struct OfxImageEffectStruct *", "ofxImageEffect.h"),
    "OfxImageClipHandle": ("struct OfxImageClipStruct *", "ofxImageEffect.h"),
    "OfxImageMemoryHandle": ("struct OfxImageMemoryStruct *", "ofxImageEffect.h"),
    "OfxParamHandle": ("struct OfxParamStruct *", "ofxParam.h"),
    "OfxParamSetHandle": ("struct OfxParamSetStruct *", "ofxParam.h"),
    "OfxMutexHandle": ("struct OfxMutex *", "ofxMultiThread.h"),
    "OfxPluginEntryPoint": ("function", "ofxCore.h"),
    "OfxThreadFunctionV1": ("function", "ofxMultiThread.h"),
}

# struct name: (header, members in order). The suites' members are function pointers.
# fmt: off
STRUCTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "OfxRectD": ("ofxCore.h", ("x1", "y1", "x2", "y2")),
    "OfxRectI": ("ofxCore.h", ("x1", "y1", "x2", "y2")),
    "OfxRangeD": ("ofxCore.h", ("min", "max")),
    "OfxHost": ("ofxCore.h", ("host", "fetchSuite")),
    "OfxPlugin": ("ofxCore.h", ("pluginApi", "apiVersion", "pluginIdentifier", "pluginVersionMajor", "pluginVersionMinor", "setHost", "mainEntry")),
    "OfxPropertySuiteV1": ("ofxProperty.h", ("propSetPointer", "propSetString", "propSetDouble", "propSetInt", "propSetPointerN", "propSetStringN", "propSetDoubleN", "propSetIntN", "propGetPointer", "propGetString", "propGetDouble", "propGetInt", "propGetPointerN", "propGetStringN", "propGetDoubleN", "propGetIntN", "propReset", "propGetDimension")),
    "OfxImageEffectSuiteV1": ("ofxImageEffect.h", ("getPropertySet", "getParamSet", "clipDefine", "clipGetHandle", "clipGetPropertySet", "clipGetImage", "clipReleaseImage", "clipGetRegionOfDefinition", "abort", "imageMemoryAlloc", "imageMemoryFree", "imageMemoryLock", "imageMemoryUnlock")),
    "OfxParameterSuiteV1": ("ofxParam.h", ("paramDefine", "paramGetHandle", "paramSetGetPropertySet", "paramGetPropertySet", "paramGetValue", "paramGetValueAtTime", "paramGetDerivative", "paramGetIntegral", "paramSetValue", "paramSetValueAtTime", "paramGetNumKeys", "paramGetKeyTime", "paramGetKeyIndex", "paramDeleteKey", "paramDeleteAllKeys", "paramCopy", "paramEditBegin", "paramEditEnd")),
    "OfxMemorySuiteV1": ("ofxMemory.h", ("memoryAlloc", "memoryFree")),
    "OfxMultiThreadSuiteV1": ("ofxMultiThread.h", ("multiThread", "multiThreadNumCPUs", "multiThreadIndex", "multiThreadIsSpawnedThread", "mutexCreate", "mutexDestroy", "mutexLock", "mutexUnLock", "mutexTryLock")),
    "OfxMessageSuiteV1": ("ofxMessage.h", ("message",)),
}
# fmt: on

#: The constants by name: ``ofx.kOfxPropLabel == "OfxPropLabel"``.
ofx = SimpleNamespace(**{name: value for name, value, _ in CONSTANTS})

#: Every property name among the constants (what a strict host accepts on a descriptor):
#: the macros named *Prop*, and the one property whose macro name lacks it.
PROPERTY_NAMES = frozenset(
    value
    for name, value, _ in CONSTANTS
    if isinstance(value, str)
    and ("Prop" in name or name == "kOfxImageEffectPluginRenderThreadSafety")
)

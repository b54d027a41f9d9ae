"""A minimal OpenFX host in ctypes, for testing and timing the Memmatte bundle without a
commercial host (tests/hosts/ofx, docs/hosts/openfx.md).

    host = MiniHost(bundle)                       # load, describe
    effect = host.instance(frames, first=1001)    # describe in context, create instance
    effect.frames_needed(1003)                    # → [(1001.0, 1003.0)]
    status, rgba = effect.render(1003)            # (H, W, 4) top row first

It implements the suites the plug-in uses (property, image effect, parameter, memory,
multi-thread, message) as far as the plug-in uses them; x86-64 Linux only (the variadic
parameter and message functions are received as fixed arguments, which that ABI allows).
Frames are numpy arrays (H, W, 3 or 4), top row first; images are laid out in memory
bottom row first (positive row bytes, OpenFX's usual way) or top row first (negative row
bytes), with optional row padding and a bounds origin other than (0, 0).

Every OpenFX name and value it speaks comes from ``hosts/ofx/facts.py`` (the official values,
with their headers), never from the plug-in's ``src/ofx_api.h``, so a wrong value in the
plug-in fails here as it would in a real host.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hosts.ofx.facts import DOCUMENTED, PROPERTY_NAMES, ofx

OK, FAILED, ERR_UNKNOWN = ofx.kOfxStatOK, ofx.kOfxStatFailed, ofx.kOfxStatErrUnknown
ERR_BAD_HANDLE, ERR_BAD_INDEX = ofx.kOfxStatErrBadHandle, ofx.kOfxStatErrBadIndex
ERR_UNSUPPORTED, REPLY_DEFAULT = ofx.kOfxStatErrUnsupported, ofx.kOfxStatReplyDefault
FILTER, GENERAL = ofx.kOfxImageEffectContextFilter, ofx.kOfxImageEffectContextGeneral
SOURCE, OUTPUT = ofx.kOfxImageEffectSimpleSourceClipName, ofx.kOfxImageEffectOutputClipName
PREMULTIPLIED, UNPREMULTIPLIED, OPAQUE = (
    ofx.kOfxImagePreMultiplied, ofx.kOfxImageUnPreMultiplied, ofx.kOfxImageOpaque,
)  # fmt: skip
FRAME_RANGE, ROI, COMPONENTS_OF = (prefix for _, prefix, _, _ in DOCUMENTED)
DEPTHS = {
    np.dtype(np.uint8): ofx.kOfxBitDepthByte,
    np.dtype(np.uint16): ofx.kOfxBitDepthShort,
    np.dtype(np.float16): ofx.kOfxBitDepthHalf,
    np.dtype(np.float32): ofx.kOfxBitDepthFloat,
}
COMPONENTS = {3: ofx.kOfxImageComponentRGB, 4: ofx.kOfxImageComponentRGBA}

vp, cp, ci, cd = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
F = ctypes.CFUNCTYPE


class OfxHostStruct(ctypes.Structure):
    _fields_ = [("host", vp), ("fetchSuite", F(vp, vp, cp, ci))]


class OfxPluginStruct(ctypes.Structure):
    _fields_ = [
        ("pluginApi", cp),
        ("apiVersion", ci),
        ("pluginIdentifier", cp),
        ("pluginVersionMajor", ctypes.c_uint),
        ("pluginVersionMinor", ctypes.c_uint),
        ("setHost", F(None, ctypes.POINTER(OfxHostStruct))),
        ("mainEntry", F(ci, cp, vp, vp, vp)),
    ]


def _suite(name: str, functions: list[tuple[str, object]]) -> type[ctypes.Structure]:
    return type(name, (ctypes.Structure,), {"_fields_": [(n, t) for n, t in functions]})


# Function types in each suite's order (the standard's), as the plug-in calls them.
PROPERTY_SUITE = [
    ("propSetPointer", F(ci, vp, cp, ci, vp)),
    ("propSetString", F(ci, vp, cp, ci, cp)),
    ("propSetDouble", F(ci, vp, cp, ci, cd)),
    ("propSetInt", F(ci, vp, cp, ci, ci)),
    ("propSetPointerN", F(ci, vp, cp, ci, ctypes.POINTER(vp))),
    ("propSetStringN", F(ci, vp, cp, ci, ctypes.POINTER(cp))),
    ("propSetDoubleN", F(ci, vp, cp, ci, ctypes.POINTER(cd))),
    ("propSetIntN", F(ci, vp, cp, ci, ctypes.POINTER(ci))),
    ("propGetPointer", F(ci, vp, cp, ci, ctypes.POINTER(vp))),
    ("propGetString", F(ci, vp, cp, ci, ctypes.POINTER(vp))),
    ("propGetDouble", F(ci, vp, cp, ci, ctypes.POINTER(cd))),
    ("propGetInt", F(ci, vp, cp, ci, ctypes.POINTER(ci))),
    ("propGetPointerN", F(ci, vp, cp, ci, ctypes.POINTER(vp))),
    ("propGetStringN", F(ci, vp, cp, ci, ctypes.POINTER(vp))),
    ("propGetDoubleN", F(ci, vp, cp, ci, ctypes.POINTER(cd))),
    ("propGetIntN", F(ci, vp, cp, ci, ctypes.POINTER(ci))),
    ("propReset", F(ci, vp, cp)),
    ("propGetDimension", F(ci, vp, cp, ctypes.POINTER(ci))),
]
IMAGE_EFFECT_SUITE = [
    ("getPropertySet", F(ci, vp, ctypes.POINTER(vp))),
    ("getParamSet", F(ci, vp, ctypes.POINTER(vp))),
    ("clipDefine", F(ci, vp, cp, ctypes.POINTER(vp))),
    ("clipGetHandle", F(ci, vp, cp, ctypes.POINTER(vp), ctypes.POINTER(vp))),
    ("clipGetPropertySet", F(ci, vp, ctypes.POINTER(vp))),
    ("clipGetImage", F(ci, vp, cd, vp, ctypes.POINTER(vp))),
    ("clipReleaseImage", F(ci, vp)),
    ("clipGetRegionOfDefinition", F(ci, vp, cd, ctypes.POINTER(cd))),
    ("abort", F(ci, vp)),
    ("imageMemoryAlloc", F(ci, vp)),
    ("imageMemoryFree", F(ci, vp)),
    ("imageMemoryLock", F(ci, vp)),
    ("imageMemoryUnlock", F(ci, vp)),
]
PARAMETER_SUITE = [
    ("paramDefine", F(ci, vp, cp, cp, ctypes.POINTER(vp))),
    ("paramGetHandle", F(ci, vp, cp, ctypes.POINTER(vp), ctypes.POINTER(vp))),
    ("paramSetGetPropertySet", F(ci, vp, ctypes.POINTER(vp))),
    ("paramGetPropertySet", F(ci, vp, ctypes.POINTER(vp))),
    ("paramGetValue", F(ci, vp, vp)),
    ("paramGetValueAtTime", F(ci, vp, cd, vp)),
    *[
        (name, F(ci, vp))
        for name in (
            "paramGetDerivative", "paramGetIntegral", "paramSetValue", "paramSetValueAtTime",
            "paramGetNumKeys", "paramGetKeyTime", "paramGetKeyIndex", "paramDeleteKey",
            "paramDeleteAllKeys", "paramCopy", "paramEditBegin", "paramEditEnd",
        )
    ],
]  # fmt: skip
MEMORY_SUITE = [
    ("memoryAlloc", F(ci, vp, ctypes.c_size_t, ctypes.POINTER(vp))),
    ("memoryFree", F(ci, vp)),
]
MULTI_THREAD_SUITE = [
    ("multiThread", F(ci, vp, ctypes.c_uint, vp)),
    ("multiThreadNumCPUs", F(ci, ctypes.POINTER(ctypes.c_uint))),
    ("multiThreadIndex", F(ci, ctypes.POINTER(ctypes.c_uint))),
    ("multiThreadIsSpawnedThread", F(ci)),
    *[(name, F(ci, vp)) for name in ("mutexCreate", "mutexDestroy", "mutexLock", "mutexUnLock",
                                     "mutexTryLock")],
]  # fmt: skip
MESSAGE_SUITE = [("message", F(ci, vp, cp, cp, cp, cp))]


class PropertySet:
    """Named, typed, multi-dimensional values; strings are kept as C buffers while set.

    A ``strict`` set (a descriptor's) knows only the standard's property names, as real hosts'
    descriptors do: setting any other name fails with kOfxStatErrUnknown.
    """

    def __init__(self, values: dict[str, list] | None = None, *, strict: bool = False) -> None:
        self.values: dict[str, list] = {k: list(v) for k, v in (values or {}).items()}
        self.strict = strict
        self._strings: dict[tuple[str, int], ctypes.Array] = {}

    def known(self, name: str) -> bool:
        return not self.strict or name in PROPERTY_NAMES or name in self.values

    def get(self, name: str, default=None):
        values = self.values.get(name)
        return default if not values else values[0]

    def set(self, name: str, index: int, value) -> None:
        values = self.values.setdefault(name, [])
        values.extend([None] * (index + 1 - len(values)))
        values[index] = value

    def c_string(self, name: str, index: int) -> int:
        text = self.values[name][index]
        buffer = self._strings.get((name, index))
        if buffer is None or buffer.value != text.encode():
            buffer = ctypes.create_string_buffer(text.encode())
            self._strings[(name, index)] = buffer
        return ctypes.addressof(buffer)


@dataclass
class Param:
    kind: str
    props: PropertySet
    value: object = None


@dataclass
class Node:
    """An effect descriptor or instance."""

    props: PropertySet
    clips: dict[str, PropertySet] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)
    param_set: PropertySet = field(default_factory=PropertySet)


@dataclass
class Layout:
    """How an image lies in memory: ``top_down`` (negative row bytes), extra bytes per row,
    and the pixel coordinates of the frame's bottom-left corner."""

    top_down: bool = False
    padding: int = 0
    origin: tuple[int, int] = (0, 0)


class Image:
    """Pixels in OpenFX memory order, with their property set."""

    def __init__(self, array: np.ndarray, layout: Layout) -> None:
        height, width, channels = array.shape
        self.shape, self.layout = array.shape, layout
        row = width * channels * array.itemsize
        self.row_bytes = row + layout.padding
        self.memory = np.zeros((height, self.row_bytes), np.uint8)
        memory_rows = array if layout.top_down else array[::-1]
        self.memory[:, :row] = np.ascontiguousarray(memory_rows).view(np.uint8).reshape(height, row)
        self.dtype = array.dtype
        base = self.memory.ctypes.data
        bottom = base + (height - 1) * self.row_bytes if layout.top_down else base
        x, y = layout.origin
        self.props = PropertySet(
            {
                ofx.kOfxImagePropData: [bottom],
                ofx.kOfxImagePropBounds: [x, y, x + width, y + height],
                ofx.kOfxImagePropRowBytes: [-self.row_bytes if layout.top_down else self.row_bytes],
                ofx.kOfxImageEffectPropPixelDepth: [DEPTHS[array.dtype]],
                ofx.kOfxImageEffectPropComponents: [COMPONENTS[channels]],
                ofx.kOfxImagePropPixelAspectRatio: [1.0],
            }
        )

    def array(self) -> np.ndarray:
        """The pixels, top row first."""
        _, width, channels = self.shape
        row = width * channels * self.dtype.itemsize
        pixels = self.memory[:, :row].copy().view(self.dtype).reshape(self.shape)
        return pixels if self.layout.top_down else pixels[::-1]


class Handles:
    """Python objects behind the opaque handles the plug-in sees (small integers)."""

    def __init__(self) -> None:
        self._objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def of(self, obj: object) -> int:
        with self._lock:
            key = id(obj)
            if key not in self._ids:
                handle = next(self._next) * 16
                self._ids[key], self._objects[handle] = handle, obj
            return self._ids[key]

    def get(self, handle: int | None) -> object | None:
        return self._objects.get(handle or 0)

    def drop(self, handle: int) -> None:
        with self._lock:
            obj = self._objects.pop(handle, None)
            if obj is not None:
                self._ids.pop(id(obj), None)


class MiniHost:
    """Loads ``Memmatte.ofx.bundle`` (or any one-effect bundle), then runs Load and Describe.

    ``refuse``: property names this host does not know (setting them fails with
    kOfxStatErrUnknown, as a host of an older standard would); ``failing``: suite functions
    that fail with kOfxStatFailed. Both stand in for hosts that differ from this one.
    """

    def __init__(
        self, bundle: str | Path, *, refuse: Collection[str] = (), failing: Collection[str] = ()
    ) -> None:
        self.bundle = Path(bundle)
        self.refuse, self.failing = frozenset(refuse), frozenset(failing)
        binary = (
            self.bundle / "Contents" / "Linux-x86-64" / (self.bundle.name.split(".")[0] + ".ofx")
        )
        self.library = ctypes.CDLL(str(binary), mode=os.RTLD_LOCAL | os.RTLD_NOW)
        self.library.OfxGetNumberOfPlugins.restype = ci
        self.library.OfxGetPlugin.restype = ctypes.POINTER(OfxPluginStruct)
        self.library.OfxGetPlugin.argtypes = [ci]
        assert self.library.OfxGetNumberOfPlugins() >= 1
        self.plugin = self.library.OfxGetPlugin(0).contents
        self.handles = Handles()
        self.messages: list[tuple[str, str]] = []
        self.fetches: list[tuple[str, float]] = []
        self.images: dict[int, Image] = {}  # live (fetched, not yet released)
        self._local = threading.local()
        self._memory: dict[int, ctypes.Array] = {}
        self.host_props = PropertySet(
            {
                ofx.kOfxPropName: ["org.memmatte.minihost"],
                ofx.kOfxPropLabel: ["memmatte minihost"],
                ofx.kOfxImageEffectHostPropIsBackground: [1],
                ofx.kOfxImageEffectPropSupportsMultipleClipDepths: [0],
                ofx.kOfxImageEffectPropTemporalClipAccess: [1],
            }
        )
        self._suites = self._build_suites()
        self._fetch_suite = F(vp, vp, cp, ci)(self._fetch_suite_cb)
        self.host_struct = OfxHostStruct(self.handles.of(self.host_props), self._fetch_suite)
        self.plugin.setHost(ctypes.byref(self.host_struct))
        self.descriptor = Node(
            PropertySet(
                {
                    ofx.kOfxPropType: [ofx.kOfxTypeImageEffect],
                    ofx.kOfxPluginPropFilePath: [str(bundle)],
                },
                strict=True,
            )
        )
        self.status_load = self.call(ofx.kOfxActionLoad, None)
        self.status_describe = self.call(ofx.kOfxActionDescribe, self.descriptor)

    # -- calling the plug-in ----------------------------------------------------------------

    @property
    def identifier(self) -> str:
        return self.plugin.pluginIdentifier.decode()

    def call(
        self,
        action: str,
        node: Node | None,
        in_args: PropertySet | None = None,
        out_args: PropertySet | None = None,
    ) -> int:
        args = [self.handles.of(a) if a is not None else None for a in (in_args, out_args)]
        try:
            return self.plugin.mainEntry(
                action.encode(), self.handles.of(node) if node is not None else None, *args
            )
        finally:
            for handle in args:
                if handle is not None:
                    self.handles.drop(handle)

    def describe_in_context(self, context: str) -> tuple[int, Node]:
        node = Node(PropertySet(self.descriptor.props.values, strict=True))
        status = self.call(
            ofx.kOfxImageEffectActionDescribeInContext,
            node,
            PropertySet({ofx.kOfxImageEffectPropContext: [context]}),
        )
        return status, node

    def instance(
        self,
        frames: Sequence[np.ndarray],
        *,
        first: int = 0,
        context: str = FILTER,
        layout: Layout | None = None,
        params: dict[str, object] | None = None,
        premultiplication: str = UNPREMULTIPLIED,
    ) -> Effect:
        """An instance on ``frames`` (all the same size and dtype), frame i at time first + i;
        ``premultiplication`` is the Source clip's (and its images') state."""
        status, descriptor = self.describe_in_context(context)
        if status != OK:
            raise RuntimeError(f"describe in context failed: {status}")
        return Effect(
            self, descriptor, list(frames), first, context, layout or Layout(), params,
            premultiplication,
        )  # fmt: skip

    def unload(self) -> int:
        return self.call(ofx.kOfxActionUnload, None)

    # -- suites -----------------------------------------------------------------------------

    def _fetch_suite_cb(self, _host, name, version):
        suite = self._suites.get((name.decode(), version))
        return ctypes.addressof(suite) if suite is not None else None

    def _build_suites(self) -> dict[tuple[str, int], ctypes.Structure]:
        self._callbacks: list[object] = []

        def make(name, layout, implementation):
            struct_type = _suite(name, layout)
            functions = []
            for fname, ftype in layout:
                fn = implementation.get(fname, lambda *_: ERR_UNSUPPORTED)
                if fname in self.failing:
                    fn = lambda *_: FAILED  # noqa: E731
                cb = ftype(fn)
                self._callbacks.append(cb)
                functions.append(cb)
            return struct_type(*functions)

        return {
            (ofx.kOfxPropertySuite, 1): make("Props", PROPERTY_SUITE, self._property_functions()),
            (ofx.kOfxImageEffectSuite, 1): make("Effects", IMAGE_EFFECT_SUITE, self._effect_fns()),
            (ofx.kOfxParameterSuite, 1): make("Params", PARAMETER_SUITE, self._param_functions()),
            (ofx.kOfxMemorySuite, 1): make("Memory", MEMORY_SUITE, self._memory_functions()),
            (ofx.kOfxMultiThreadSuite, 1): make("Threads", MULTI_THREAD_SUITE, self._thread_fns()),
            (ofx.kOfxMessageSuite, 1): make("Messages", MESSAGE_SUITE, {"message": self._message}),
        }

    def _props(self, handle) -> PropertySet | None:
        obj = self.handles.get(handle)
        return obj if isinstance(obj, PropertySet) else None

    def _property_functions(self) -> dict[str, object]:
        def setter(convert):
            def set_one(handle, name, index, value):
                props = self._props(handle)
                if props is None:
                    return ERR_BAD_HANDLE
                if not props.known(name.decode()) or name.decode() in self.refuse:
                    return ERR_UNKNOWN
                props.set(name.decode(), index, convert(value))
                return OK

            def set_n(handle, name, count, values):
                props = self._props(handle)
                if props is None:
                    return ERR_BAD_HANDLE
                if not props.known(name.decode()) or name.decode() in self.refuse:
                    return ERR_UNKNOWN
                props.values[name.decode()] = [convert(values[i]) for i in range(count)]
                return OK

            return set_one, set_n

        def getter(store, string=False):
            def value_at(props, name, index):
                values = props.values.get(name)
                if values is None:
                    return ERR_UNKNOWN, None
                if not 0 <= index < len(values):
                    return ERR_BAD_INDEX, None
                return OK, props.c_string(name, index) if string else values[index]

            def get_one(handle, name, index, out):
                props = self._props(handle)
                if props is None:
                    return ERR_BAD_HANDLE
                status, value = value_at(props, name.decode(), index)
                if status == OK:
                    out[0] = store(value)
                return status

            def get_n(handle, name, count, out):
                props = self._props(handle)
                if props is None:
                    return ERR_BAD_HANDLE
                for i in range(count):
                    status, value = value_at(props, name.decode(), i)
                    if status != OK:
                        return status
                    out[i] = store(value)
                return OK

            return get_one, get_n

        def dimension(handle, name, out):
            props = self._props(handle)
            if props is None:
                return ERR_BAD_HANDLE
            if name.decode() not in props.values:
                return ERR_UNKNOWN
            out[0] = len(props.values[name.decode()])
            return OK

        def reset(handle, name):
            return OK if self._props(handle) is not None else ERR_BAD_HANDLE

        fns: dict[str, object] = {"propGetDimension": dimension, "propReset": reset}
        for kind, convert, store, string in (
            ("Pointer", lambda v: v or 0, lambda v: v, False),
            ("String", lambda v: v.decode() if v else "", lambda v: v, True),
            ("Double", float, float, False),
            ("Int", int, int, False),
        ):
            fns[f"propSet{kind}"], fns[f"propSet{kind}N"] = setter(convert)
            fns[f"propGet{kind}"], fns[f"propGet{kind}N"] = getter(store, string)
        return fns

    def _node(self, handle) -> Node | None:
        obj = self.handles.get(handle)
        return obj if isinstance(obj, Node) else None

    def _effect_fns(self) -> dict[str, object]:
        def get_property_set(handle, out):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            out[0] = self.handles.of(node.props)
            return OK

        def get_param_set(handle, out):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            out[0] = self.handles.of(node)  # the node stands for its parameter set
            return OK

        def clip_define(handle, name, out):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            props = node.clips.setdefault(
                name.decode(), PropertySet({ofx.kOfxPropName: [name.decode()]}, strict=True)
            )
            out[0] = self.handles.of(props)
            return OK

        def clip_get_handle(handle, name, out, out_props):
            node = self._node(handle)
            if node is None or name.decode() not in node.clips:
                return ERR_BAD_HANDLE if node is None else ERR_UNKNOWN
            props = node.clips[name.decode()]
            out[0] = self.handles.of(props)  # a clip is represented by its property set
            if out_props:
                out_props[0] = self.handles.of(props)
            return OK

        def clip_get_property_set(handle, out):
            props = self._props(handle)
            if props is None:
                return ERR_BAD_HANDLE
            out[0] = handle
            return OK

        def clip_get_image(handle, time, _region, out):
            props = self._props(handle)
            effect = getattr(self._local, "effect", None)
            if props is None or effect is None:
                return ERR_BAD_HANDLE
            name = props.get(ofx.kOfxPropName)
            self.fetches.append((name, time))
            image = effect.image(name, time)
            if image is None:
                return FAILED
            self.images[self.handles.of(image.props)] = image
            out[0] = self.handles.of(image.props)
            return OK

        def clip_release_image(handle):
            if self.images.pop(handle or 0, None) is None:
                return ERR_BAD_HANDLE
            self.handles.drop(handle)
            return OK

        def clip_rod(handle, time, out):
            props = self._props(handle)
            effect = getattr(self._local, "effect", None)
            if props is None or effect is None:
                return ERR_BAD_HANDLE
            x1, y1, x2, y2 = effect.bounds()
            out[0], out[1], out[2], out[3] = float(x1), float(y1), float(x2), float(y2)
            return OK

        return {
            "getPropertySet": get_property_set,
            "getParamSet": get_param_set,
            "clipDefine": clip_define,
            "clipGetHandle": clip_get_handle,
            "clipGetPropertySet": clip_get_property_set,
            "clipGetImage": clip_get_image,
            "clipReleaseImage": clip_release_image,
            "clipGetRegionOfDefinition": clip_rod,
            "abort": lambda _handle: 0,
        }

    def _param_functions(self) -> dict[str, object]:
        def define(handle, kind, name, out):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            param = Param(
                kind.decode(), PropertySet({ofx.kOfxPropName: [name.decode()]}, strict=True)
            )
            node.params[name.decode()] = param
            if out:
                out[0] = self.handles.of(param.props)
            return OK

        def get_handle(handle, name, out, out_props):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            param = node.params.get(name.decode())
            if param is None:
                return ERR_UNKNOWN
            out[0] = self.handles.of(param)
            if out_props:
                out_props[0] = self.handles.of(param.props)
            return OK

        def get_value(handle, out):
            param = self.handles.get(handle)
            if not isinstance(param, Param) or not out:
                return ERR_BAD_HANDLE
            if param.kind in (
                ofx.kOfxParamTypeChoice,
                ofx.kOfxParamTypeInteger,
                ofx.kOfxParamTypeBoolean,
            ):
                ctypes.cast(out, ctypes.POINTER(ci))[0] = int(param.value)
            elif param.kind == ofx.kOfxParamTypeDouble:
                ctypes.cast(out, ctypes.POINTER(cd))[0] = float(param.value)
            elif param.kind == ofx.kOfxParamTypeString:
                param.props.set("_value", 0, str(param.value))
                address = param.props.c_string("_value", 0)
                ctypes.cast(out, ctypes.POINTER(vp))[0] = address
            else:
                return ERR_UNSUPPORTED
            return OK

        def param_set_props(handle, out):
            node = self._node(handle)
            if node is None:
                return ERR_BAD_HANDLE
            out[0] = self.handles.of(node.param_set)
            return OK

        def param_props(handle, out):
            param = self.handles.get(handle)
            if not isinstance(param, Param):
                return ERR_BAD_HANDLE
            out[0] = self.handles.of(param.props)
            return OK

        return {
            "paramDefine": define,
            "paramGetHandle": get_handle,
            "paramSetGetPropertySet": param_set_props,
            "paramGetPropertySet": param_props,
            "paramGetValue": get_value,
            "paramGetValueAtTime": lambda handle, _time, out: get_value(handle, out),
        }

    def _memory_functions(self) -> dict[str, object]:
        def alloc(_handle, size, out):
            buffer = ctypes.create_string_buffer(max(int(size), 1))
            self._memory[ctypes.addressof(buffer)] = buffer
            out[0] = ctypes.addressof(buffer)
            return OK

        def free(address):
            return OK if self._memory.pop(address or 0, None) is not None else ERR_BAD_HANDLE

        return {"memoryAlloc": alloc, "memoryFree": free}

    def _thread_fns(self) -> dict[str, object]:
        def num_cpus(out):
            out[0] = os.cpu_count() or 1
            return OK

        def index(out):
            out[0] = 0
            return OK

        return {
            "multiThreadNumCPUs": num_cpus,
            "multiThreadIndex": index,
            "multiThreadIsSpawnedThread": lambda: 0,
        }

    def _message(self, _handle, kind, _id, fmt, first_arg):
        text = first_arg.decode() if fmt == b"%s" and first_arg else (fmt or b"").decode()
        self.messages.append(((kind or b"").decode(), text))
        return OK


class Effect:
    """An instance of the effect on a clip of frames; ``render`` returns the Output image."""

    def __init__(
        self,
        host: MiniHost,
        descriptor: Node,
        frames: list[np.ndarray],
        first: int,
        context: str,
        layout: Layout,
        params: dict[str, object] | None,
        premultiplication: str = UNPREMULTIPLIED,
    ) -> None:
        self.host, self.frames, self.first, self.layout = host, frames, first, layout
        height, width, channels = frames[0].shape
        self.size = (height, width)
        depth = DEPTHS[frames[0].dtype]
        self.node = Node(
            PropertySet({ofx.kOfxImageEffectPropContext: [context], ofx.kOfxPropInstanceData: [0]})
        )
        last = float(first + len(frames) - 1)
        for name, props in descriptor.clips.items():
            clip = PropertySet(props.values)
            clip.values.update(
                {
                    ofx.kOfxImageEffectPropPixelDepth: [depth],
                    ofx.kOfxImageEffectPropComponents: [
                        COMPONENTS[channels if name == SOURCE else 4]
                    ],
                    ofx.kOfxImageEffectPropFrameRange: [float(first), last],
                    ofx.kOfxImageClipPropConnected: [1],
                    ofx.kOfxImageEffectPropPreMultiplication: [
                        premultiplication if name == SOURCE else UNPREMULTIPLIED
                    ],
                }
            )
            self.node.clips[name] = clip
        for name, param in descriptor.params.items():
            default = param.props.get(ofx.kOfxParamPropDefault)
            self.node.params[name] = Param(param.kind, param.props, default)
        for name, value in (params or {}).items():
            self.set(name, value)
        self.output_fill = np.nan if frames[0].dtype.kind == "f" else 7
        with self._current():
            self.status_create = host.call(ofx.kOfxActionCreateInstance, self.node)
        self.clip_preferences()

    def clip_preferences(self) -> tuple[int, PropertySet]:
        """Runs the Get Clip Preferences action and, as a host does, gives the Output clip
        the premultiplication the effect asks for; → (status, the action's out-arguments)."""
        out = PropertySet()
        with self._current():
            status = self.host.call(
                ofx.kOfxImageEffectActionGetClipPreferences, self.node, None, out
            )
        premultiplication = out.get(ofx.kOfxImageEffectPropPreMultiplication)
        if status == OK and premultiplication is not None:
            self.node.clips[OUTPUT].set(
                ofx.kOfxImageEffectPropPreMultiplication, 0, premultiplication
            )
        return status, out

    def set(self, name: str, value: object) -> None:
        self.node.params[name].value = value

    def bounds(self) -> tuple[int, int, int, int]:
        x, y = self.layout.origin
        return x, y, x + self.size[1], y + self.size[0]

    def image(self, clip: str, time: float) -> Image | None:
        if clip == OUTPUT:
            return self.host._local.output
        if time != round(time) or not 0 <= round(time) - self.first < len(self.frames):
            return None
        index = round(time) - self.first
        image = Image(self.frames[index], self.layout)
        state = self.node.clips[clip].get(ofx.kOfxImageEffectPropPreMultiplication)
        image.props.set(ofx.kOfxImageEffectPropPreMultiplication, 0, state)
        return image

    def _current(self, output: Image | None = None):
        local = self.host._local
        effect = self

        class Scope:
            def __enter__(self):
                local.effect, local.output = effect, output

            def __exit__(self, *_):
                local.effect = local.output = None

        return Scope()

    def frames_needed(self, time: float) -> tuple[int, list[tuple[float, float]]]:
        out = PropertySet()
        with self._current():
            status = self.host.call(
                ofx.kOfxImageEffectActionGetFramesNeeded,
                self.node,
                PropertySet({ofx.kOfxPropTime: [time]}),
                out,
            )
        values = out.values.get(FRAME_RANGE + SOURCE, [])
        return status, list(zip(values[::2], values[1::2], strict=True))

    def render(
        self, time: float, window: tuple[int, int, int, int] | None = None
    ) -> tuple[int, np.ndarray]:
        """Renders frame ``time`` into a fresh Output image filled with ``output_fill``;
        → (status, RGBA (H, W, 4) top row first, in the frames' dtype)."""
        self.clip_preferences()  # as hosts do when parameters may have changed
        height, width = self.size
        dtype = self.frames[0].dtype
        output = Image(np.full((height, width, 4), self.output_fill, dtype), self.layout)
        state = self.node.clips[OUTPUT].get(ofx.kOfxImageEffectPropPreMultiplication)
        output.props.set(ofx.kOfxImageEffectPropPreMultiplication, 0, state)
        in_args = PropertySet(
            {
                ofx.kOfxPropTime: [float(time)],
                ofx.kOfxImageEffectPropFieldToRender: [ofx.kOfxImageFieldNone],
                ofx.kOfxImageEffectPropRenderWindow: list(window or self.bounds()),
                ofx.kOfxImageEffectPropRenderScale: [1.0, 1.0],
                ofx.kOfxImageEffectPropSequentialRenderStatus: [0],
                ofx.kOfxImageEffectPropInteractiveRenderStatus: [0],
            }
        )
        with self._current(output):
            status = self.host.call(ofx.kOfxImageEffectActionRender, self.node, in_args)
        return status, output.array()

    def destroy(self) -> int:
        with self._current():
            return self.host.call(ofx.kOfxActionDestroyInstance, self.node)

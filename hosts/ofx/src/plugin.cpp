// Memmatte.ofx: the memmatte OpenFX image effect (docs/hosts/openfx.md).
//
// Frame t is matted from source frames t-2, t-1 and t (the clip's first frame stands in
// for frames before it), as core.session.MattingSession does, so every frame renders on its
// own and in any order. Inference runs in libmemmatte_runtime.so (runtime.cpp), loaded with
// dlopen on the first render from the folder this binary is in.

#include <dlfcn.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ofx_api.h"
#include "runtime.h"

namespace {

constexpr const char* kPluginIdentifier = "org.memmatte.Memmatte";
constexpr unsigned kVersionMajor = 1;
constexpr unsigned kVersionMinor = 0;
constexpr const char* kModelEnv = "MEMMATTE_OFX_MODEL";
constexpr const char* kRuntimeFile = "libmemmatte_runtime.so";

constexpr const char* kParamOutput = "output";
constexpr const char* kParamColour = "colourSpace";
constexpr const char* kParamRatio = "downsampleRatio";
constexpr const char* kParamModel = "model";
enum OutputMode { kMatteAsAlpha = 0, kForegroundPremultiplied = 1, kAlphaOnly = 2 };
enum ColourMode { kSrgb = 0, kSceneLinear = 1 };

OfxHost* g_host = nullptr;
const OfxPropertySuiteV1* g_props = nullptr;
const OfxImageEffectSuiteV1* g_effects = nullptr;
const OfxParameterSuiteV1* g_params = nullptr;
const OfxMemorySuiteV1* g_memory = nullptr;
const OfxMultiThreadSuiteV1* g_threads = nullptr;  // fetched; the plug-in locks with std::mutex
const OfxMessageSuiteV1* g_messages = nullptr;

// ---- small helpers -------------------------------------------------------------------

struct Failure {
  OfxStatus status;
  std::string message;
};

void post_error(OfxImageEffectHandle effect, const std::string& text) {
  std::string message = "Memmatte: " + text;
  if (g_messages != nullptr) {
    g_messages->message(effect, ofx::kOfxMessageError, nullptr, "%s", message.c_str());
  }
}

std::string get_string(OfxPropertySetHandle props, const char* name, int index = 0) {
  char* value = nullptr;
  if (g_props->propGetString(props, name, index, &value) != ofx::kOfxStatOK || value == nullptr)
    return {};
  return value;
}

std::string frame_label(double time) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", time);
  return text;
}

OfxImageClipHandle clip(OfxImageEffectHandle effect, const char* name) {
  OfxImageClipHandle handle = nullptr;
  g_effects->clipGetHandle(effect, name, &handle, nullptr);
  return handle;
}

OfxPropertySetHandle clip_props(OfxImageClipHandle handle) {
  OfxPropertySetHandle props = nullptr;
  g_effects->clipGetPropertySet(handle, &props);
  return props;
}

OfxParamHandle param(OfxImageEffectHandle effect, const char* name) {
  OfxParamSetHandle set = nullptr;
  OfxParamHandle handle = nullptr;
  g_effects->getParamSet(effect, &set);
  g_params->paramGetHandle(set, name, &handle, nullptr);
  return handle;
}

struct Settings {
  int output = kMatteAsAlpha;
  int colour = kSrgb;
  double ratio = 0.0;
  std::string model;
};

Settings read_settings(OfxImageEffectHandle effect, double time) {
  Settings s;
  g_params->paramGetValueAtTime(param(effect, kParamOutput), time, &s.output);
  g_params->paramGetValueAtTime(param(effect, kParamColour), time, &s.colour);
  g_params->paramGetValueAtTime(param(effect, kParamRatio), time, &s.ratio);
  char* model = nullptr;
  g_params->paramGetValueAtTime(param(effect, kParamModel), time, &model);
  if (model != nullptr) s.model = model;
  return s;
}

// ---- the inference runtime and its models --------------------------------------------

struct Runtime {
  void* library = nullptr;
  MemmatteLoadFn load = nullptr;
  MemmatteRunFn run = nullptr;
  MemmatteFreeFn free = nullptr;
};

std::mutex g_models_mutex;  // guards g_runtime and g_models
Runtime g_runtime;
std::map<std::string, void*> g_models;

std::string plugin_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&plugin_folder), &info) == 0 || info.dli_fname == nullptr)
    return ".";
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// ---- who may have written the code we load (as core/trust.py) -------------------------
//
// The runtime library and the TorchScript model are code: they are loaded only from files
// and folders that nobody but this user or root can write, or members of the group named by
// MEMMATTE_TRUSTED_GROUP (a shared install). World-writable is never trusted.

constexpr const char* kTrustedGroupEnv = "MEMMATTE_TRUSTED_GROUP";

std::string user_name(uid_t uid) {
  passwd entry{}, *found = nullptr;
  char buffer[4096];
  if (getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr)
    return found->pw_name;
  return std::to_string(uid);
}

std::string group_name(gid_t gid) {
  group entry{}, *found = nullptr;
  char buffer[4096];
  if (getgrgid_r(gid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr)
    return found->gr_name;
  return std::to_string(gid);
}

// The trusted group's id; false when none is set or it is not a group here.
bool trusted_group(gid_t* gid) {
  const char* name = std::getenv(kTrustedGroupEnv);
  if (name == nullptr || *name == '\0') return false;
  group entry{}, *found = nullptr;
  char buffer[4096];
  bool number = std::strspn(name, "0123456789") == std::strlen(name);
  int status = number ? getgrgid_r(gid_t(std::strtoul(name, nullptr, 10)), &entry, buffer,
                                   sizeof buffer, &found)
                      : getgrnam_r(name, &entry, buffer, sizeof buffer, &found);
  if (status != 0 || found == nullptr) return false;
  *gid = found->gr_gid;
  return true;
}

// What is wrong with `path` as a place code is loaded from; empty when nothing is.
std::string untrusted_path(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0)
    return path + " cannot be checked (" + std::strerror(errno) + ")";
  gid_t group = 0;
  bool by_group = trusted_group(&group) && info.st_gid == group;
  uid_t me = geteuid();
  if (info.st_uid != me && info.st_uid != 0 && !by_group)
    return path + " is owned by user " + user_name(info.st_uid) + ", not by you (" +
           user_name(me) + ") or root (fix: chown " + user_name(me) + " " + path +
           ", or trust a group with " + kTrustedGroupEnv + ")";
  if (info.st_mode & S_IWOTH) return path + " is writable by others (fix: chmod o-w " + path + ")";
  if ((info.st_mode & S_IWGRP) && !by_group)
    return path + " is writable by group " + group_name(info.st_gid) + " (fix: chmod g-w " +
           path + ", or trust the group with " + kTrustedGroupEnv + "=" +
           group_name(info.st_gid) + ")";
  return {};
}

std::string real_path(const std::string& path) {
  char real[PATH_MAX];
  return realpath(path.c_str(), real) != nullptr ? std::string(real) : path;
}

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Refuses to load `file` (`what` names it) when it, its folder or, for a symlink, the
// folder the link is in could have been written by someone else.
void check_trusted(const std::string& what, const std::string& file) {
  std::string real = real_path(file);
  std::vector<std::string> paths{real, folder_of(real)};
  std::string linked = real_path(folder_of(file));
  if (linked != paths[1]) paths.push_back(linked);
  std::string problems;
  for (const auto& path : paths) {
    std::string problem = untrusted_path(path);
    if (!problem.empty()) problems += (problems.empty() ? "" : "; ") + problem;
  }
  if (!problems.empty())
    throw Failure{ofx::kOfxStatFailed, "not loading " + what + " " + file + ": " + problems +
                                        " (see docs/hosts/openfx.md)"};
}

// The model for `path`, loading the runtime and the model on first use.
void* model_for(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_models_mutex);
  if (g_runtime.library == nullptr) {
    std::string file = plugin_folder() + "/" + kRuntimeFile;
    struct stat present {};
    if (stat(file.c_str(), &present) == 0) check_trusted("the inference runtime", file);
    void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      const char* why = dlerror();
      throw Failure{ofx::kOfxStatFailed,
                    "cannot load the inference runtime " + file + " (" + (why ? why : "?") +
                        "); it needs LibTorch from the torch wheel it was built against "
                        "(rebuild with python -m hosts.ofx.build)"};
    }
    Runtime runtime{library, reinterpret_cast<MemmatteLoadFn>(dlsym(library, MEMMATTE_LOAD_SYMBOL)),
                    reinterpret_cast<MemmatteRunFn>(dlsym(library, MEMMATTE_RUN_SYMBOL)),
                    reinterpret_cast<MemmatteFreeFn>(dlsym(library, MEMMATTE_FREE_SYMBOL))};
    if (!runtime.load || !runtime.run || !runtime.free) {
      dlclose(library);
      throw Failure{ofx::kOfxStatFailed, file + " is not a memmatte runtime"};
    }
    g_runtime = runtime;
  }
  auto found = g_models.find(path);
  if (found != g_models.end()) return found->second;
  struct stat info {};
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
    throw Failure{ofx::kOfxStatFailed, "no model file at " + path};
  check_trusted("the TorchScript model", path);
  char error[1024] = "";
  void* model = g_runtime.load(path.c_str(), error, sizeof error);
  if (model == nullptr) {
    throw Failure{ofx::kOfxStatFailed, "cannot load the TorchScript model " + path + ": " + error};
  }
  g_models[path] = model;
  return model;
}

void free_models() {
  std::lock_guard<std::mutex> lock(g_models_mutex);
  for (auto& entry : g_models) g_runtime.free(entry.second);
  g_models.clear();
  // The runtime library stays loaded: LibTorch does not support being unloaded.
}

// ---- images --------------------------------------------------------------------------

// A fetched image, released when it goes out of scope.
class Image {
 public:
  Image(OfxImageClipHandle clip, double time, const OfxRectD* region) {
    if (clip == nullptr || g_effects->clipGetImage(clip, time, region, &props_) != ofx::kOfxStatOK)
      props_ = nullptr;
    if (props_ == nullptr) return;
    g_props->propGetPointer(props_, ofx::kOfxImagePropData, 0, &data_);
    g_props->propGetIntN(props_, ofx::kOfxImagePropBounds, 4, &bounds_.x1);
    g_props->propGetInt(props_, ofx::kOfxImagePropRowBytes, 0, &row_bytes_);
    depth_name_ = get_string(props_, ofx::kOfxImageEffectPropPixelDepth);
    components_name_ = get_string(props_, ofx::kOfxImageEffectPropComponents);
    // The image's own state; a host that leaves it out of the image has it on the clip.
    premultiplication_ = get_string(props_, ofx::kOfxImageEffectPropPreMultiplication);
    if (premultiplication_.empty())
      premultiplication_ = get_string(clip_props(clip), ofx::kOfxImageEffectPropPreMultiplication);
    if (depth_name_ == ofx::kOfxBitDepthByte) bytes_ = 1;
    if (depth_name_ == ofx::kOfxBitDepthShort) bytes_ = 2;
    if (depth_name_ == ofx::kOfxBitDepthFloat) bytes_ = 4;
    if (components_name_ == ofx::kOfxImageComponentRGBA) channels_ = 4;
    if (components_name_ == ofx::kOfxImageComponentRGB) channels_ = 3;
  }
  ~Image() {
    if (props_ != nullptr) g_effects->clipReleaseImage(props_);
  }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  bool valid() const { return props_ != nullptr && data_ != nullptr; }
  const OfxRectI& bounds() const { return bounds_; }
  int width() const { return bounds_.x2 - bounds_.x1; }
  int height() const { return bounds_.y2 - bounds_.y1; }
  const std::string& depth_name() const { return depth_name_; }
  const std::string& components_name() const { return components_name_; }
  // RGBA whose colour is premultiplied by its alpha (kOfxImagePreMultiplied).
  bool premultiplied() const {
    return channels_ == 4 && premultiplication_ == ofx::kOfxImagePreMultiplied;
  }

  // Bytes per channel (1, 2 or 4) and channels (3 or 4); 0 when unsupported.
  int bytes() const { return bytes_; }
  int channels() const { return channels_; }

  // The address of pixel (x, y) in the image's coordinates; rows may run either way in
  // memory (a negative row stride is allowed by the standard).
  char* pixel(int x, int y) const {
    return static_cast<char*>(data_) + std::ptrdiff_t(y - bounds_.y1) * row_bytes_ +
           std::ptrdiff_t(x - bounds_.x1) * channels_ * bytes_;
  }

  float read(int x, int y, int channel) const {
    // memcpy: rows need not be aligned to the channel size (any row bytes are allowed).
    const char* p = pixel(x, y) + channel * bytes_;
    switch (bytes_) {
      case 1:
        return float(*reinterpret_cast<const std::uint8_t*>(p)) / 255.0f;
      case 2: {
        std::uint16_t v;
        std::memcpy(&v, p, sizeof v);
        return float(v) / 65535.0f;
      }
      default: {
        float v;
        std::memcpy(&v, p, sizeof v);
        return v;
      }
    }
  }

  void write(int x, int y, int channel, float value) const {
    char* p = pixel(x, y) + channel * bytes_;
    switch (bytes_) {
      case 1:
        *reinterpret_cast<std::uint8_t*>(p) =
            std::uint8_t(std::lround(std::clamp(value, 0.0f, 1.0f) * 255.0f));
        break;
      case 2: {
        auto v = std::uint16_t(std::lround(std::clamp(value, 0.0f, 1.0f) * 65535.0f));
        std::memcpy(p, &v, sizeof v);
        break;
      }
      default:
        std::memcpy(p, &value, sizeof value);
    }
  }

 private:
  OfxPropertySetHandle props_ = nullptr;
  void* data_ = nullptr;
  OfxRectI bounds_{0, 0, 0, 0};
  int row_bytes_ = 0;
  int bytes_ = 0;     // per channel: 1, 2 or 4; 0 for an unsupported depth
  int channels_ = 0;  // 3 or 4; 0 for unsupported components
  std::string depth_name_, components_name_, premultiplication_;
};

// Colour channel c of (x, y), un-premultiplied when the image is premultiplied: the network
// and the Matte-as-alpha output take straight colour. Where alpha is 0 the colour stays.
float straight_colour(const Image& image, int x, int y, int c) {
  const float v = image.read(x, y, c);
  if (!image.premultiplied()) return v;
  const float alpha = image.read(x, y, 3);
  return alpha > 0.0f ? v / alpha : v;
}

// A float buffer from the host's memory suite (so the host can account for it), or from
// the heap when the host has none.
class Buffer {
 public:
  explicit Buffer(std::size_t count) {
    std::size_t bytes = count * sizeof(float);
    if (g_memory == nullptr || g_memory->memoryAlloc(nullptr, bytes, &data_) != ofx::kOfxStatOK) {
      data_ = nullptr;
      heap_.resize(count);
    }
    if (data_ == nullptr && heap_.empty())
      throw Failure{ofx::kOfxStatErrMemory, "out of memory for " + std::to_string(bytes) + " bytes"};
  }
  ~Buffer() {
    if (data_ != nullptr) g_memory->memoryFree(data_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  float* get() { return data_ != nullptr ? static_cast<float*>(data_) : heap_.data(); }

 private:
  void* data_ = nullptr;
  std::vector<float> heap_;
};

// sRGB's transfer curve (IEC 61966-2-1), for scene-linear Rec.709 footage.
float linear_to_srgb(float v) {
  return v <= 0.0031308f ? 12.92f * v : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}
float srgb_to_linear(float v) {
  return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

// What the network sees: sRGB in [0, 1]; NaN becomes 0.
float network_value(float v, int colour) {
  if (colour == kSceneLinear) v = linear_to_srgb(std::max(v, 0.0f));
  if (!(v >= 0.0f)) return 0.0f;
  return std::min(v, 1.0f);
}

// ---- actions -------------------------------------------------------------------------

// Describing: every property set and suite call is checked. A failed property set is
// reported (the host's log through the message suite, and stderr) and describing goes on, so
// a host that does not know an optional property still loads the effect; a failed suite call
// that returns a handle fails the action, since nothing can be described without it.
class Describer {
 public:
  explicit Describer(const char* action) : action_(action) {}

  // Sets string/int/double property `name` at `index` on `props` (`what` names the set).
  void set(OfxPropertySetHandle props, const char* what, const char* name, int index,
           const char* value) {
    check(g_props->propSetString(props, name, index, value), what, name);
  }
  void set(OfxPropertySetHandle props, const char* what, const char* name, int index, int value) {
    check(g_props->propSetInt(props, name, index, value), what, name);
  }
  void set(OfxPropertySetHandle props, const char* what, const char* name, int index,
           double value) {
    check(g_props->propSetDouble(props, name, index, value), what, name);
  }

  // A suite call whose handle the rest of the action needs.
  void require(OfxStatus status, const std::string& call) {
    if (status == ofx::kOfxStatOK) return;
    std::string text = std::string(action_) + ": " + call + " failed (" + status_name(status) + ")";
    log(text);
    throw Failure{ofx::kOfxStatFailed, text};
  }

  static std::string status_name(OfxStatus status) {
    switch (status) {
      case ofx::kOfxStatFailed: return "kOfxStatFailed";
      case ofx::kOfxStatErrFatal: return "kOfxStatErrFatal";
      case ofx::kOfxStatErrUnknown: return "kOfxStatErrUnknown";
      case ofx::kOfxStatErrUnsupported: return "kOfxStatErrUnsupported";
      case ofx::kOfxStatErrBadHandle: return "kOfxStatErrBadHandle";
      case ofx::kOfxStatErrBadIndex: return "kOfxStatErrBadIndex";
      case ofx::kOfxStatErrValue: return "kOfxStatErrValue";
      default: return "status " + std::to_string(status);
    }
  }

 private:
  void check(OfxStatus status, const char* what, const char* name) {
    if (status != ofx::kOfxStatOK)
      log(std::string(action_) + ": setting " + name + " on the " + what + " failed (" +
          status_name(status) + ")");
  }

  // A descriptor is not an instance, so messages go with a NULL handle (the standard allows
  // it; HostSupport prints those to its log).
  static void log(const std::string& text) {
    std::string message = "Memmatte: " + text;
    std::fprintf(stderr, "%s\n", message.c_str());
    if (g_messages != nullptr)
      g_messages->message(nullptr, ofx::kOfxMessageLog, nullptr, "%s", message.c_str());
  }

  const char* action_;
};

OfxStatus describe(OfxImageEffectHandle effect) {
  Describer d(ofx::kOfxActionDescribe);
  OfxPropertySetHandle props = nullptr;
  d.require(g_effects->getPropertySet(effect, &props), "getPropertySet");
  const char* what = "effect descriptor";
  d.set(props, what, ofx::kOfxPropLabel, 0, "Memmatte");
  d.set(props, what, ofx::kOfxImageEffectPluginPropGrouping, 0, "Keyer");
  d.set(props, what, ofx::kOfxPropPluginDescription, 0,
        "Trimap-free video portrait matting (memmatte). Frame t is matted from source frames "
        "t-2, t-1 and t, so frames render alone and in any order.");
  d.set(props, what, ofx::kOfxImageEffectPropSupportedContexts, 0,
        ofx::kOfxImageEffectContextFilter);
  d.set(props, what, ofx::kOfxImageEffectPropSupportedContexts, 1,
        ofx::kOfxImageEffectContextGeneral);
  d.set(props, what, ofx::kOfxImageEffectPropSupportedPixelDepths, 0, ofx::kOfxBitDepthByte);
  d.set(props, what, ofx::kOfxImageEffectPropSupportedPixelDepths, 1, ofx::kOfxBitDepthShort);
  d.set(props, what, ofx::kOfxImageEffectPropSupportedPixelDepths, 2, ofx::kOfxBitDepthFloat);
  d.set(props, what, ofx::kOfxImageEffectPropSupportsMultipleClipDepths, 0, 0);
  d.set(props, what, ofx::kOfxImageEffectPropSupportsMultiResolution, 0, 0);
  d.set(props, what, ofx::kOfxImageEffectPropSupportsTiles, 0, 0);
  d.set(props, what, ofx::kOfxImageEffectPropTemporalClipAccess, 0, 1);
  // True because the model cache is locked and each model's forward pass is serialised.
  d.set(props, what, ofx::kOfxImageEffectPluginRenderThreadSafety, 0,
        ofx::kOfxImageEffectRenderFullySafe);
  d.set(props, what, ofx::kOfxImageEffectPluginPropHostFrameThreading, 0, 0);
  return ofx::kOfxStatOK;
}

void define_choice(Describer& d, OfxParamSetHandle set, const char* name, const char* label,
                   const char* hint, const std::vector<const char*>& options) {
  OfxPropertySetHandle props = nullptr;
  d.require(g_params->paramDefine(set, ofx::kOfxParamTypeChoice, name, &props),
            std::string("paramDefine ") + name);
  const std::string what = std::string("parameter ") + name;
  d.set(props, what.c_str(), ofx::kOfxPropLabel, 0, label);
  d.set(props, what.c_str(), ofx::kOfxParamPropHint, 0, hint);
  for (int i = 0; i < int(options.size()); ++i)
    d.set(props, what.c_str(), ofx::kOfxParamPropChoiceOption, i, options[i]);
  d.set(props, what.c_str(), ofx::kOfxParamPropDefault, 0, 0);
  d.set(props, what.c_str(), ofx::kOfxParamPropAnimates, 0, 0);
}

OfxStatus describe_in_context(OfxImageEffectHandle effect) {
  Describer d(ofx::kOfxImageEffectActionDescribeInContext);
  OfxPropertySetHandle source = nullptr, output = nullptr;
  d.require(g_effects->clipDefine(effect, ofx::kOfxImageEffectSimpleSourceClipName, &source),
            "clipDefine Source");
  const char* what = "Source clip";
  d.set(source, what, ofx::kOfxImageEffectPropSupportedComponents, 0, ofx::kOfxImageComponentRGBA);
  d.set(source, what, ofx::kOfxImageEffectPropSupportedComponents, 1, ofx::kOfxImageComponentRGB);
  d.set(source, what, ofx::kOfxImageEffectPropTemporalClipAccess, 0, 1);
  d.set(source, what, ofx::kOfxImageEffectPropSupportsTiles, 0, 0);
  d.require(g_effects->clipDefine(effect, ofx::kOfxImageEffectOutputClipName, &output),
            "clipDefine Output");
  what = "Output clip";
  d.set(output, what, ofx::kOfxImageEffectPropSupportedComponents, 0, ofx::kOfxImageComponentRGBA);
  d.set(output, what, ofx::kOfxImageEffectPropSupportsTiles, 0, 0);

  OfxParamSetHandle set = nullptr;
  d.require(g_effects->getParamSet(effect, &set), "getParamSet");
  define_choice(d, set, kParamOutput, "Output",
                "Matte as alpha: the source RGB (un-premultiplied) with the matte in alpha. "
                "Foreground premultiplied: the network's clean foreground times the matte, matte "
                "in alpha. Alpha only: the matte in all four channels.",
                {"Matte as alpha", "Foreground premultiplied", "Alpha only"});
  define_choice(d, set, kParamColour, "Source colour",
                "What the source pixels are. sRGB: display-referred sRGB in [0, 1], passed to "
                "the network as they are. Scene-linear: linear Rec.709/sRGB primaries, encoded "
                "with the sRGB curve for the network; the foreground is decoded back to linear.",
                {"sRGB (display-referred)", "Scene-linear Rec.709"});

  OfxPropertySetHandle props = nullptr;
  d.require(g_params->paramDefine(set, ofx::kOfxParamTypeDouble, kParamRatio, &props),
            std::string("paramDefine ") + kParamRatio);
  what = "parameter downsampleRatio";
  d.set(props, what, ofx::kOfxPropLabel, 0, "Downsample ratio");
  d.set(props, what, ofx::kOfxParamPropHint, 0,
        "The scale the network runs at; the Deep Guided Filter restores full resolution. "
        "0 = auto: the long side the weights were trained for.");
  d.set(props, what, ofx::kOfxParamPropDefault, 0, 0.0);
  d.set(props, what, ofx::kOfxParamPropMin, 0, 0.0);
  d.set(props, what, ofx::kOfxParamPropMax, 0, 1.0);
  d.set(props, what, ofx::kOfxParamPropDisplayMin, 0, 0.0);
  d.set(props, what, ofx::kOfxParamPropDisplayMax, 0, 1.0);
  d.set(props, what, ofx::kOfxParamPropAnimates, 0, 0);

  d.require(g_params->paramDefine(set, ofx::kOfxParamTypeString, kParamModel, &props),
            std::string("paramDefine ") + kParamModel);
  what = "parameter model";
  d.set(props, what, ofx::kOfxPropLabel, 0, "Model");
  d.set(props, what, ofx::kOfxParamPropHint, 0,
        "A TorchScript file from python -m core.export --format torchscript --flexible. "
        "Empty: the MEMMATTE_OFX_MODEL environment variable.");
  d.set(props, what, ofx::kOfxParamPropDefault, 0, "");
  d.set(props, what, ofx::kOfxParamPropStringMode, 0, ofx::kOfxParamStringIsFilePath);
  d.set(props, what, ofx::kOfxParamPropStringFilePathExists, 0, 1);
  d.set(props, what, ofx::kOfxParamPropAnimates, 0, 0);
  return ofx::kOfxStatOK;
}

double first_frame(OfxImageEffectHandle effect) {
  double range[2] = {0.0, 0.0};
  g_props->propGetDoubleN(clip_props(clip(effect, ofx::kOfxImageEffectSimpleSourceClipName)),
                          ofx::kOfxImageEffectPropFrameRange, 2, range);
  return range[0];
}

// Frame t - back, clamped at the clip's first frame like MattingSession.
double source_time(double time, int back, double first) {
  return std::max(time - back, std::min(first, time));
}

OfxStatus frames_needed(OfxImageEffectHandle effect, OfxPropertySetHandle in,
                        OfxPropertySetHandle out) {
  double time = 0.0;
  g_props->propGetDouble(in, ofx::kOfxPropTime, 0, &time);
  double range[2] = {source_time(time, 2, first_frame(effect)), time};
  std::string name = std::string(ofx::kClipPropFrameRangePrefix) + ofx::kOfxImageEffectSimpleSourceClipName;
  g_props->propSetDoubleN(out, name.c_str(), 2, range);
  return ofx::kOfxStatOK;
}

OfxStatus regions_of_interest(OfxImageEffectHandle effect, OfxPropertySetHandle in,
                              OfxPropertySetHandle out) {
  // The network needs whole frames whatever part of the output is asked for.
  double time = 0.0;
  g_props->propGetDouble(in, ofx::kOfxPropTime, 0, &time);
  OfxRectD rod{0, 0, 0, 0};
  if (g_effects->clipGetRegionOfDefinition(clip(effect, ofx::kOfxImageEffectSimpleSourceClipName), time, &rod) !=
      ofx::kOfxStatOK)
    return ofx::kOfxStatReplyDefault;
  std::string name = std::string(ofx::kClipPropRoIPrefix) + ofx::kOfxImageEffectSimpleSourceClipName;
  g_props->propSetDoubleN(out, name.c_str(), 4, &rod.x1);
  return ofx::kOfxStatOK;
}

OfxStatus clip_preferences(OfxImageEffectHandle effect, OfxPropertySetHandle out) {
  int mode = kMatteAsAlpha;
  g_params->paramGetValue(param(effect, kParamOutput), &mode);
  std::string components = std::string(ofx::kClipPropComponentsPrefix) + ofx::kOfxImageEffectOutputClipName;
  g_props->propSetString(out, components.c_str(), 0, ofx::kOfxImageComponentRGBA);
  // Matte as alpha: straight source colour under the matte. Foreground premultiplied: colour
  // times the matte. Alpha only: the matte in RGB too, i.e. white premultiplied by the matte.
  g_props->propSetString(out, ofx::kOfxImageEffectPropPreMultiplication, 0,
                         mode == kMatteAsAlpha ? ofx::kOfxImageUnPreMultiplied
                                               : ofx::kOfxImagePreMultiplied);
  return ofx::kOfxStatOK;
}

std::string resolve_model(const Settings& settings) {
  if (!settings.model.empty()) return settings.model;
  const char* env = std::getenv(kModelEnv);
  if (env != nullptr && *env != '\0') return env;
  throw Failure{ofx::kOfxStatFailed,
                "no model: set the Model parameter or MEMMATTE_OFX_MODEL to a TorchScript file "
                "made with python -m core.export --format torchscript --flexible"};
}

void check_source(const Image& image, double time) {
  std::string frame = "source frame " + frame_label(time);
  if (!image.valid()) throw Failure{ofx::kOfxStatFailed, "no image for " + frame};
  if (image.bytes() == 0)
    throw Failure{ofx::kOfxStatFailed,
                  frame + " has pixel depth " + image.depth_name() +
                      "; Memmatte takes 8-bit, 16-bit or 32-bit float images"};
  if (image.channels() == 0)
    throw Failure{ofx::kOfxStatFailed,
                  frame + " has components " + image.components_name() + "; expected RGBA or RGB"};
  if (image.width() <= 0 || image.height() <= 0)
    throw Failure{ofx::kOfxStatFailed, frame + " is empty"};
}

OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle in) {
  double time = 0.0;
  OfxRectI window{0, 0, 0, 0};
  g_props->propGetDouble(in, ofx::kOfxPropTime, 0, &time);
  g_props->propGetIntN(in, ofx::kOfxImageEffectPropRenderWindow, 4, &window.x1);
  if (window.x2 <= window.x1 || window.y2 <= window.y1) return ofx::kOfxStatOK;

  Settings settings = read_settings(effect, time);
  void* model = model_for(resolve_model(settings));

  OfxImageClipHandle source_clip = clip(effect, ofx::kOfxImageEffectSimpleSourceClipName);
  OfxRectD rod{0, 0, 0, 0};
  g_effects->clipGetRegionOfDefinition(source_clip, time, &rod);
  double first = first_frame(effect);
  double times[3] = {source_time(time, 2, first), source_time(time, 1, first), time};
  Image frame_a(source_clip, times[0], &rod), frame_b(source_clip, times[1], &rod),
      frame_t(source_clip, times[2], &rod);
  const Image* frames[3] = {&frame_a, &frame_b, &frame_t};
  for (int k = 0; k < 3; ++k) check_source(*frames[k], times[k]);
  const OfxRectI b = frame_t.bounds();
  for (int k = 0; k < 2; ++k) {
    const OfxRectI o = frames[k]->bounds();
    if (o.x1 != b.x1 || o.y1 != b.y1 || o.x2 != b.x2 || o.y2 != b.y2)
      throw Failure{ofx::kOfxStatFailed, "source frame " + frame_label(times[k]) +
                                          " differs in size from frame " + frame_label(time)};
  }

  // (1, 9, H, W) planar, top row first: OpenFX's y runs up, the network's rows run down.
  const int width = frame_t.width(), height = frame_t.height();
  const std::size_t plane = std::size_t(width) * height;
  Buffer input(9 * plane), result(4 * plane);
  float* in_data = input.get();
  for (int k = 0; k < 3; ++k)
    for (int row = 0; row < height; ++row) {
      const int y = b.y2 - 1 - row;
      for (int col = 0; col < width; ++col)
        for (int c = 0; c < 3; ++c)
          in_data[(3 * k + c) * plane + std::size_t(row) * width + col] =
              network_value(straight_colour(*frames[k], b.x1 + col, y, c), settings.colour);
    }

  char error[1024] = "";
  if (g_runtime.run(model, in_data, height, width, settings.ratio, result.get(), error,
                    sizeof error) != 0)
    throw Failure{ofx::kOfxStatFailed, std::string("inference failed: ") + error};

  Image out(clip(effect, ofx::kOfxImageEffectOutputClipName), time, nullptr);
  if (!out.valid()) throw Failure{ofx::kOfxStatFailed, "no output image at frame " + frame_label(time)};
  if (out.bytes() == 0 || out.channels() != 4)
    throw Failure{ofx::kOfxStatFailed, "output image is " + out.depth_name() + " " +
                                                out.components_name() + "; expected RGBA"};
  const float* res = result.get();
  const OfxRectI ob = out.bounds();
  const int x1 = std::max(window.x1, ob.x1), x2 = std::min(window.x2, ob.x2);
  const int y1 = std::max(window.y1, ob.y1), y2 = std::min(window.y2, ob.y2);
  for (int y = y1; y < y2; ++y)
    for (int x = x1; x < x2; ++x) {
      float rgba[4] = {0, 0, 0, 0};
      if (x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2) {
        const std::size_t at = std::size_t(b.y2 - 1 - y) * width + (x - b.x1);
        const float alpha = res[3 * plane + at];
        rgba[3] = alpha;
        for (int c = 0; c < 3; ++c) {
          if (settings.output == kMatteAsAlpha) {
            rgba[c] = straight_colour(frame_t, x, y, c);
          } else if (settings.output == kAlphaOnly) {
            rgba[c] = alpha;
          } else {
            float fg = res[c * plane + at];
            if (settings.colour == kSceneLinear) fg = srgb_to_linear(fg);
            rgba[c] = fg * alpha;
          }
        }
      }
      for (int c = 0; c < 4; ++c) out.write(x, y, c, rgba[c]);
    }
  return ofx::kOfxStatOK;
}

OfxStatus load() {
  if (g_host == nullptr) return ofx::kOfxStatErrMissingHostFeature;
  auto fetch = [](const char* name, int version) { return g_host->fetchSuite(g_host->host, name, version); };
  g_props = static_cast<const OfxPropertySuiteV1*>(fetch(ofx::kOfxPropertySuite, 1));
  g_effects = static_cast<const OfxImageEffectSuiteV1*>(fetch(ofx::kOfxImageEffectSuite, 1));
  g_params = static_cast<const OfxParameterSuiteV1*>(fetch(ofx::kOfxParameterSuite, 1));
  g_memory = static_cast<const OfxMemorySuiteV1*>(fetch(ofx::kOfxMemorySuite, 1));
  g_threads = static_cast<const OfxMultiThreadSuiteV1*>(fetch(ofx::kOfxMultiThreadSuite, 1));
  g_messages = static_cast<const OfxMessageSuiteV1*>(fetch(ofx::kOfxMessageSuite, 1));
  if (!g_props || !g_effects || !g_params) return ofx::kOfxStatErrMissingHostFeature;
  return ofx::kOfxStatOK;
}

OfxStatus main_entry(const char* action, const void* handle, OfxPropertySetHandle in,
                     OfxPropertySetHandle out) {
  auto effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
  // Messages name an instance, never a descriptor (hosts such as HostSupport take a non-NULL
  // handle for an instance); describing and loading report with a NULL handle.
  const bool describing = std::strcmp(action, ofx::kOfxActionDescribe) == 0 ||
                          std::strcmp(action, ofx::kOfxImageEffectActionDescribeInContext) == 0 ||
                          std::strcmp(action, ofx::kOfxActionLoad) == 0;
  OfxImageEffectHandle about = describing ? nullptr : effect;
  try {
    if (std::strcmp(action, ofx::kOfxActionLoad) == 0) return load();
    if (std::strcmp(action, ofx::kOfxActionUnload) == 0) {
      free_models();
      return ofx::kOfxStatOK;
    }
    if (std::strcmp(action, ofx::kOfxActionDescribe) == 0) return describe(effect);
    if (std::strcmp(action, ofx::kOfxImageEffectActionDescribeInContext) == 0)
      return describe_in_context(effect);
    if (std::strcmp(action, ofx::kOfxActionCreateInstance) == 0) return ofx::kOfxStatOK;
    if (std::strcmp(action, ofx::kOfxActionDestroyInstance) == 0) return ofx::kOfxStatOK;
    if (std::strcmp(action, ofx::kOfxImageEffectActionGetFramesNeeded) == 0)
      return frames_needed(effect, in, out);
    if (std::strcmp(action, ofx::kOfxImageEffectActionGetRegionsOfInterest) == 0)
      return regions_of_interest(effect, in, out);
    if (std::strcmp(action, ofx::kOfxImageEffectActionGetClipPreferences) == 0)
      return clip_preferences(effect, out);
    if (std::strcmp(action, ofx::kOfxImageEffectActionRender) == 0) return render(effect, in);
  } catch (const Failure& failure) {
    post_error(about, failure.message);
    return failure.status;
  } catch (const std::exception& e) {
    post_error(about, e.what());
    return ofx::kOfxStatErrUnknown;
  } catch (...) {
    post_error(about, "unknown error");
    return ofx::kOfxStatErrUnknown;
  }
  return ofx::kOfxStatReplyDefault;
}

void set_host(OfxHost* host) { g_host = host; }

OfxPlugin g_plugin = {ofx::kOfxImageEffectPluginApi, ofx::kOfxImageEffectPluginApiVersion,
                      kPluginIdentifier,          kVersionMajor,
                      kVersionMinor,              set_host,
                      main_entry};

}  // namespace

extern "C" __attribute__((visibility("default"))) int OfxGetNumberOfPlugins(void) { return 1; }

extern "C" __attribute__((visibility("default"))) OfxPlugin* OfxGetPlugin(int nth) {
  return nth == 0 ? &g_plugin : nullptr;
}

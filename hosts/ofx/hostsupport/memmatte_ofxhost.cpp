// memmatte_ofxhost: a command-line OpenFX host built on the official HostSupport library
// (github.com/AcademySoftwareFoundation/openfx, HostSupport/), for checking the Memmatte
// bundle against a host that the project did not write. Built by build.sh from a fetched
// copy of that repository; nothing of it is committed here.
//
//   OFX_PLUGIN_PATH=hosts/ofx/build memmatte_ofxhost MODEL W H FIRST COUNT frames.raw OUT \
//       CONTEXT OUTPUT_MODE PREMULT TIME...
//
// frames.raw: COUNT float32 RGBA frames of H x W, top row first (numpy's order). For every
// TIME (in the order given) the host runs regions of interest and render and writes the
// Output image to OUT/frame.<TIME>.raw in the same layout. CONTEXT: filter or general;
// OUTPUT_MODE: the Output choice (0, 1, 2); PREMULT: the Source clip's premultiplication
// (premultiplied, unpremultiplied or opaque). It prints one line per action with its status,
// the host's log, and exits 1 when any action fails.

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ofxCore.h"
#include "ofxImageEffect.h"
#include "ofxMessage.h"
#include "ofxMultiThread.h"
#include "ofxParam.h"
// HostSupport's headers need this order.
#include "ofxhBinary.h"
#include "ofxhPropertySuite.h"
#include "ofxhClip.h"
#include "ofxhParam.h"
#include "ofxhMemory.h"
#include "ofxhImageEffect.h"
#include "ofxhPluginAPICache.h"
#include "ofxhPluginCache.h"
#include "ofxhHost.h"
#include "ofxhImageEffectAPI.h"

namespace {

namespace H = OFX::Host;
namespace IE = OFX::Host::ImageEffect;

struct Shot {
  int width = 0, height = 0, first = 0, count = 0;
  std::string premult = kOfxImageUnPreMultiplied;
  std::vector<float> frames;  // count x height x width x 4, bottom row first per frame
  const float* frame(int index) const {
    return frames.data() + std::size_t(index) * width * height * 4;
  }
};

Shot g_shot;
int g_failures = 0;

void log_line(const char* prefix, const char* format, va_list args) {
  std::printf("%s", prefix);
  std::vprintf(format, args);
  std::printf("\n");
  std::fflush(stdout);
}

// ---- images and clips ----------------------------------------------------------------

class Frame : public IE::Image {
 public:
  Frame(IE::ClipInstance& clip, std::vector<float> pixels, int width, int height)
      : IE::Image(clip, 1.0, 1.0, nullptr, OfxRectI{0, 0, width, height},
                  OfxRectI{0, 0, width, height}, width * 4 * int(sizeof(float)), kOfxImageFieldNone,
                  "memmatte"),
        pixels_(std::move(pixels)) {
    setPointerProperty(kOfxImagePropData, pixels_.data());
  }
  const std::vector<float>& pixels() const { return pixels_; }

 private:
  std::vector<float> pixels_;
};

class Effect;

class Clip : public IE::ClipInstance {
 public:
  Clip(Effect* effect, IE::ClipDescriptor* descriptor);

  const std::string& getUnmappedBitDepth() const override { return depth_; }
  const std::string& getUnmappedComponents() const override { return components_; }
  const std::string& getPremult() const override;
  double getAspectRatio() const override { return 1.0; }
  double getFrameRate() const override { return 24.0; }
  void getFrameRange(double& start, double& end) const override {
    start = g_shot.first;
    end = g_shot.first + g_shot.count - 1;
  }
  const std::string& getFieldOrder() const override { return field_; }
  bool getConnected() const override { return true; }
  double getUnmappedFrameRate() const override { return 24.0; }
  void getUnmappedFrameRange(double& start, double& end) const override { getFrameRange(start, end); }
  bool getContinuousSamples() const override { return false; }
  OfxRectD getRegionOfDefinition(OfxTime) const override {
    return OfxRectD{0, 0, double(g_shot.width), double(g_shot.height)};
  }
  IE::Image* getImage(OfxTime time, const OfxRectD* bounds) override;

  std::vector<double> fetched;  // times of the source images fetched
  Frame* output = nullptr;      // the render's output image

 private:
  Effect* effect_;
  std::string depth_ = kOfxBitDepthFloat, components_ = kOfxImageComponentRGBA;
  std::string field_ = kOfxImageFieldNone;
};

// ---- parameters ----------------------------------------------------------------------

class Choice : public H::Param::ChoiceInstance {
 public:
  Choice(H::Param::Descriptor& d, H::Param::SetInstance* set)
      : H::Param::ChoiceInstance(d, set), value_(d.getProperties().getIntProperty(kOfxParamPropDefault)) {}
  OfxStatus get(int& v) override { v = value_; return kOfxStatOK; }
  OfxStatus get(OfxTime, int& v) override { v = value_; return kOfxStatOK; }
  OfxStatus set(int v) override { value_ = v; return kOfxStatOK; }
  OfxStatus set(OfxTime, int v) override { value_ = v; return kOfxStatOK; }

 private:
  int value_;
};

class Double : public H::Param::DoubleInstance {
 public:
  Double(H::Param::Descriptor& d, H::Param::SetInstance* set)
      : H::Param::DoubleInstance(d, set), value_(d.getProperties().getDoubleProperty(kOfxParamPropDefault)) {}
  OfxStatus get(double& v) override { v = value_; return kOfxStatOK; }
  OfxStatus get(OfxTime, double& v) override { v = value_; return kOfxStatOK; }
  OfxStatus set(double v) override { value_ = v; return kOfxStatOK; }
  OfxStatus set(OfxTime, double v) override { value_ = v; return kOfxStatOK; }
  OfxStatus derive(OfxTime, double& v) override { v = 0; return kOfxStatOK; }
  OfxStatus integrate(OfxTime t1, OfxTime t2, double& v) override { v = value_ * (t2 - t1); return kOfxStatOK; }

 private:
  double value_;
};

class String : public H::Param::StringInstance {
 public:
  String(H::Param::Descriptor& d, H::Param::SetInstance* set)
      : H::Param::StringInstance(d, set), value_(d.getProperties().getStringProperty(kOfxParamPropDefault)) {}
  OfxStatus get(std::string& v) override { v = value_; return kOfxStatOK; }
  OfxStatus get(OfxTime, std::string& v) override { v = value_; return kOfxStatOK; }
  OfxStatus set(const char* v) override { value_ = v; return kOfxStatOK; }
  OfxStatus set(OfxTime, const char* v) override { value_ = v; return kOfxStatOK; }

 private:
  std::string value_;
};

// ---- the effect instance -------------------------------------------------------------

class Effect : public IE::Instance {
 public:
  Effect(IE::ImageEffectPlugin* plugin, IE::Descriptor& desc, const std::string& context)
      : IE::Instance(plugin, desc, context, false) {}

  const std::string& getDefaultOutputFielding() const override { return field_; }
  const std::string& output_premultiplication() const { return _outputPreMultiplication; }
  IE::ClipInstance* newClipInstance(IE::Instance*, IE::ClipDescriptor* descriptor, int) override {
    return new Clip(this, descriptor);
  }
  OfxStatus vmessage(const char* type, const char*, const char* format, va_list args) override {
    std::string prefix = std::string("message ") + type + ": ";
    log_line(prefix.c_str(), format, args);
    return kOfxStatOK;
  }
  OfxStatus setPersistentMessage(const char* type, const char* id, const char* format,
                                 va_list args) override {
    return vmessage(type, id, format, args);
  }
  OfxStatus clearPersistentMessage() override { return kOfxStatOK; }
  void getProjectSize(double& x, double& y) const override { x = g_shot.width; y = g_shot.height; }
  void getProjectOffset(double& x, double& y) const override { x = y = 0; }
  void getProjectExtent(double& x, double& y) const override { getProjectSize(x, y); }
  double getProjectPixelAspectRatio() const override { return 1.0; }
  double getEffectDuration() const override { return g_shot.count; }
  double getFrameRate() const override { return 24.0; }
  double getFrameRecursive() const override { return g_shot.first; }
  void getRenderScaleRecursive(double& x, double& y) const override { x = y = 1.0; }

  H::Param::Instance* newParam(const std::string&, H::Param::Descriptor& d) override {
    const std::string& type = d.getType();
    if (type == kOfxParamTypeChoice) return new Choice(d, this);
    if (type == kOfxParamTypeDouble) return new Double(d, this);
    if (type == kOfxParamTypeString) return new String(d, this);
    std::printf("unsupported parameter type %s\n", type.c_str());
    return nullptr;
  }
  OfxStatus editBegin(const std::string&) override { return kOfxStatOK; }
  OfxStatus editEnd() override { return kOfxStatOK; }
  void progressStart(const std::string&, const std::string&) override {}
  void progressEnd() override {}
  bool progressUpdate(double) override { return true; }
  double timeLineGetTime() override { return g_shot.first; }
  void timeLineGotoTime(double) override {}
  void timeLineGetBounds(double& t1, double& t2) override {
    t1 = g_shot.first;
    t2 = g_shot.first + g_shot.count - 1;
  }

 private:
  std::string field_ = kOfxImageFieldNone;
};

Clip::Clip(Effect* effect, IE::ClipDescriptor* descriptor)
    : IE::ClipInstance(effect, *descriptor), effect_(effect) {}

const std::string& Clip::getPremult() const {
  // The Source is what the command line says; the Output is what clip preferences chose.
  return isOutput() ? effect_->output_premultiplication() : g_shot.premult;
}

IE::Image* Clip::getImage(OfxTime time, const OfxRectD*) {
  const int w = g_shot.width, h = g_shot.height;
  if (isOutput()) {
    if (output == nullptr) return nullptr;
    output->addReference();
    return output;
  }
  const int index = int(time) - g_shot.first;
  if (time != double(int(time)) || index < 0 || index >= g_shot.count) return nullptr;
  fetched.push_back(time);
  const float* source = g_shot.frame(index);
  return new Frame(*this, std::vector<float>(source, source + std::size_t(w) * h * 4), w, h);
}

// ---- the host ------------------------------------------------------------------------

class Host : public IE::Host {
 public:
  Host() {
    _properties.setStringProperty(kOfxPropName, "org.memmatte.hostsupport");
    _properties.setStringProperty(kOfxPropLabel, "memmatte HostSupport host");
    _properties.setIntProperty(kOfxImageEffectHostPropIsBackground, 1);
    _properties.setIntProperty(kOfxImageEffectPropSupportsOverlays, 0);
    _properties.setIntProperty(kOfxImageEffectPropSupportsMultiResolution, 0);
    _properties.setIntProperty(kOfxImageEffectPropSupportsTiles, 0);
    _properties.setIntProperty(kOfxImageEffectPropTemporalClipAccess, 1);
    _properties.setStringProperty(kOfxImageEffectPropSupportedComponents, kOfxImageComponentRGBA, 0);
    _properties.setStringProperty(kOfxImageEffectPropSupportedContexts, kOfxImageEffectContextFilter, 0);
    _properties.setStringProperty(kOfxImageEffectPropSupportedContexts, kOfxImageEffectContextGeneral, 1);
    _properties.setIntProperty(kOfxImageEffectPropSupportsMultipleClipDepths, 0);
    _properties.setIntProperty(kOfxImageEffectPropSupportsMultipleClipPARs, 0);
    _properties.setIntProperty(kOfxImageEffectPropSetableFrameRate, 0);
    _properties.setIntProperty(kOfxImageEffectPropSetableFielding, 0);
  }
  IE::Instance* newInstance(void*, IE::ImageEffectPlugin* plugin, IE::Descriptor& desc,
                            const std::string& context) override {
    return new Effect(plugin, desc, context);
  }
  IE::Descriptor* makeDescriptor(IE::ImageEffectPlugin* plugin) override {
    return new IE::Descriptor(plugin);
  }
  IE::Descriptor* makeDescriptor(const IE::Descriptor& root, IE::ImageEffectPlugin* plugin) override {
    return new IE::Descriptor(root, plugin);
  }
  IE::Descriptor* makeDescriptor(const std::string& bundle, IE::ImageEffectPlugin* plugin) override {
    return new IE::Descriptor(bundle, plugin);
  }
  OfxStatus vmessage(const char* type, const char*, const char* format, va_list args) override {
    std::string prefix = std::string("host message ") + type + ": ";
    log_line(prefix.c_str(), format, args);
    return kOfxStatOK;
  }
  OfxStatus setPersistentMessage(const char* type, const char* id, const char* format,
                                 va_list args) override {
    return vmessage(type, id, format, args);
  }
  OfxStatus clearPersistentMessage() override { return kOfxStatOK; }
#ifdef OFX_SUPPORTS_OPENGLRENDER
  OfxStatus flushOpenGLResources() const override { return kOfxStatFailed; }
#endif
};

bool report(const char* action, OfxStatus status, bool ok) {
  std::printf("action %s: status %d%s\n", action, status, ok ? "" : " FAILED");
  std::fflush(stdout);
  if (!ok) ++g_failures;
  return ok;
}

bool ok_or_default(OfxStatus s) { return s == kOfxStatOK || s == kOfxStatReplyDefault; }

// Reads COUNT frames (top row first) into bottom-row-first frames.
bool read_frames(const char* path) {
  const std::size_t row = std::size_t(g_shot.width) * 4, plane = row * g_shot.height;
  std::vector<float> raw(plane * g_shot.count);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * sizeof(float))))
    return false;
  g_shot.frames.resize(raw.size());
  for (int f = 0; f < g_shot.count; ++f)
    for (int y = 0; y < g_shot.height; ++y)
      std::memcpy(&g_shot.frames[f * plane + std::size_t(y) * row],
                  &raw[f * plane + std::size_t(g_shot.height - 1 - y) * row], row * sizeof(float));
  return true;
}

void write_frame(const std::string& path, const std::vector<float>& pixels) {
  const std::size_t row = std::size_t(g_shot.width) * 4;
  std::ofstream out(path, std::ios::binary);
  for (int y = g_shot.height - 1; y >= 0; --y)
    out.write(reinterpret_cast<const char*>(&pixels[std::size_t(y) * row]),
              std::streamsize(row * sizeof(float)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 12) {
    std::fprintf(stderr,
                 "usage: %s MODEL W H FIRST COUNT frames.raw OUT CONTEXT OUTPUT_MODE PREMULT "
                 "TIME...\n",
                 argv[0]);
    return 2;
  }
  const std::string model = argv[1], out_dir = argv[7], context_name = argv[8];
  g_shot.width = std::atoi(argv[2]);
  g_shot.height = std::atoi(argv[3]);
  g_shot.first = std::atoi(argv[4]);
  g_shot.count = std::atoi(argv[5]);
  const int output_mode = std::atoi(argv[9]);
  const std::string premult = argv[10];
  g_shot.premult = premult == "premultiplied"   ? kOfxImagePreMultiplied
                   : premult == "opaque"        ? kOfxImageOpaque
                                                : kOfxImageUnPreMultiplied;
  if (!read_frames(argv[6])) {
    std::fprintf(stderr, "cannot read %d frames of %dx%d from %s\n", g_shot.count, g_shot.width,
                 g_shot.height, argv[6]);
    return 2;
  }
  const std::string context =
      context_name == "general" ? kOfxImageEffectContextGeneral : kOfxImageEffectContextFilter;

  H::PluginCache::getPluginCache()->setCacheVersion("memmatteHostSupportV1");
  Host host;
  IE::PluginCache effects(host);
  effects.registerInCache(*H::PluginCache::getPluginCache());
  H::PluginCache::getPluginCache()->scanPluginFiles();  // OFX_PLUGIN_PATH
  IE::ImageEffectPlugin* plugin = effects.getPluginById("org.memmatte.Memmatte");
  if (plugin == nullptr) {
    std::printf("no org.memmatte.Memmatte on OFX_PLUGIN_PATH\n");
    return 1;
  }
  // Load and describe happen when the plug-in is first used; describe in context with the
  // instance.
  std::unique_ptr<IE::Instance> instance(plugin->createInstance(context, nullptr));
  if (!report("describe, describe in context", 0, instance != nullptr)) return 1;
  auto* choice = dynamic_cast<Choice*>(instance->getParam("output"));
  auto* model_param = dynamic_cast<String*>(instance->getParam("model"));
  if (choice == nullptr || model_param == nullptr) {
    report("parameters", kOfxStatFailed, false);
    return 1;
  }
  choice->set(output_mode);
  model_param->set(model.c_str());
  const OfxStatus created = instance->createInstanceAction();
  report("create instance", created, ok_or_default(created));
  report("clip preferences", 0, instance->getClipPreferences());
  std::printf("output premultiplication: %s\n",
              static_cast<Effect*>(instance.get())->output_premultiplication().c_str());

  auto* source = dynamic_cast<Clip*>(instance->getClip(kOfxImageEffectSimpleSourceClipName));
  auto* output = dynamic_cast<Clip*>(instance->getClip(kOfxImageEffectOutputClipName));
  const OfxPointD scale{1.0, 1.0};
  const OfxRectI window{0, 0, g_shot.width, g_shot.height};
  const OfxRectD region{0, 0, double(g_shot.width), double(g_shot.height)};
  double last = g_shot.first + g_shot.count - 1;
  report("begin render",
         instance->beginRenderAction(g_shot.first, last, 1.0, false, scale, false, false),
         true);
  for (int i = 11; i < argc; ++i) {
    const double time = std::atof(argv[i]);
    std::map<IE::ClipInstance*, OfxRectD> rois;
    OfxStatus s = instance->getRegionOfInterestAction(time, scale, region, rois);
    report("regions of interest", s, ok_or_default(s));
    OfxRectD roi = rois.count(source) ? rois[source] : OfxRectD{0, 0, 0, 0};
    std::printf("roi %g: %g %g %g %g\n", time, roi.x1, roi.y1, roi.x2, roi.y2);
    IE::RangeMap ranges;
    s = instance->getFrameNeededAction(time, ranges);
    report("frames needed", s, ok_or_default(s));
    for (const OfxRangeD& r : ranges[source]) std::printf("frames needed %g: %g %g\n", time, r.min, r.max);

    const std::size_t n = std::size_t(g_shot.width) * g_shot.height * 4;
    output->output = new Frame(*output, std::vector<float>(n, -1.0f), g_shot.width, g_shot.height);
    source->fetched.clear();
    s = instance->renderAction(time, kOfxImageFieldNone, window, scale, false, false, false);
    report("render", s, s == kOfxStatOK);
    std::printf("fetched %g:", time);
    for (double t : source->fetched) std::printf(" %g", t);
    std::printf("\n");
    write_frame(out_dir + "/frame." + std::to_string(int(time)) + ".raw", output->output->pixels());
    output->output->releaseReference();
    output->output = nullptr;
  }
  report("end render", instance->endRenderAction(g_shot.first, last, 1.0, false, scale, false, false), true);
  instance.reset();  // destroy instance
  std::printf("action destroy instance: done\n");
  H::PluginCache::clearPluginCache();
  return g_failures == 0 ? 0 : 1;
}

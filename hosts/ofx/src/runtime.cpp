// libmemmatte_runtime.so: TorchScript inference for the Memmatte OpenFX plug-in.

#include "runtime.h"

#include <torch/script.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <string>

namespace {

struct Model {
  torch::jit::Module module;
  // One forward pass at a time per model: TorchScript modules are not documented as safe
  // for concurrent calls, and LibTorch already spreads one pass over the CPU's cores.
  std::mutex mutex;
};

void set_error(char* error, size_t size, const std::string& text) {
  if (error != nullptr && size > 0) std::snprintf(error, size, "%s", text.c_str());
}

// The first line of a c10::Error: the rest is a C++ backtrace, no use in a host's dialog.
std::string first_line(const std::string& what) { return what.substr(0, what.find('\n')); }

}  // namespace

extern "C" __attribute__((visibility("default"))) void* memmatte_runtime_load(const char* path,
                                                                              char* error,
                                                                              size_t error_size) {
  try {
    auto model = std::make_unique<Model>();
    model->module = torch::jit::load(path, torch::kCPU);
    model->module.eval();
    if (!model->module.find_method("forward")) {
      set_error(error, error_size, "the TorchScript file has no forward method");
      return nullptr;
    }
    return model.release();
  } catch (const std::exception& e) {
    set_error(error, error_size, first_line(e.what()));
    return nullptr;
  }
}

extern "C" __attribute__((visibility("default"))) int memmatte_runtime_run(
    void* handle, const float* frames, int height, int width, double ratio, float* result,
    char* error, size_t error_size) {
  auto* model = static_cast<Model*>(handle);
  try {
    c10::InferenceMode guard;
    auto input = torch::from_blob(const_cast<float*>(frames), {1, 9, height, width},
                                  torch::kFloat32);
    torch::Tensor output;
    {
      std::lock_guard<std::mutex> lock(model->mutex);
      output = model->module.forward({input, ratio}).toTensor();
    }
    output = output.to(torch::kFloat32).contiguous();
    if (output.dim() != 4 || output.size(0) != 1 || output.size(1) != 4 ||
        output.size(2) != height || output.size(3) != width) {
      set_error(error, error_size,
                "the model returned shape " + c10::str(output.sizes()) + ", expected (1, 4, " +
                    std::to_string(height) + ", " + std::to_string(width) + ")");
      return 1;
    }
    std::memcpy(result, output.data_ptr<float>(), sizeof(float) * 4 * height * width);
    return 0;
  } catch (const std::exception& e) {
    std::string text = first_line(e.what());
    if (text.find("forward() expected at most 2 argument") != std::string::npos ||
        text.find("Expected at most 2 argument") != std::string::npos) {
      text = "this TorchScript file is a fixed-size export; export one for any size with "
             "python -m core.export --format torchscript --flexible (" + text + ")";
    }
    set_error(error, error_size, text);
    return 1;
  }
}

extern "C" __attribute__((visibility("default"))) void memmatte_runtime_free(void* handle) {
  delete static_cast<Model*>(handle);
}

// The C interface between the OpenFX plug-in (Memmatte.ofx, no LibTorch dependency) and the
// inference runtime (libmemmatte_runtime.so, linked against LibTorch). The plug-in loads the
// runtime with dlopen on the first render, so a host scanning plug-ins never loads LibTorch,
// and a missing LibTorch becomes an error message instead of a plug-in that fails to load.

#pragma once

#include <cstddef>

extern "C" {

// Loads a size-flexible TorchScript export (python -m core.export --format torchscript
// --flexible). Returns an opaque model, or nullptr with a message in `error`.
typedef void* (*MemmatteLoadFn)(const char* path, char* error, size_t error_size);

// frames: (1, 9, height, width) float32 planar, frames t-2, t-1, t, sRGB in [0, 1].
// result: (1, 4, height, width) float32 planar, foreground RGB (not premultiplied) and alpha.
// ratio: the downsample ratio, or <= 0 for the checkpoint's auto ratio.
// Safe to call from several threads on one model: the forward pass is serialised per model.
// Returns 0 on success, else non-zero with a message in `error`.
typedef int (*MemmatteRunFn)(void* model, const float* frames, int height, int width,
                             double ratio, float* result, char* error, size_t error_size);

typedef void (*MemmatteFreeFn)(void* model);

}  // extern "C"

#define MEMMATTE_LOAD_SYMBOL "memmatte_runtime_load"
#define MEMMATTE_RUN_SYMBOL "memmatte_runtime_run"
#define MEMMATTE_FREE_SYMBOL "memmatte_runtime_free"

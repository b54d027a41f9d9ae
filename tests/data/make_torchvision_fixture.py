"""Generate the torchvision MobileNetV3-Large test fixture.

Writes, next to this script:
  * torchvision_mobilenet_v3_large.json
      parameter/buffer names and shapes of ``torchvision.models.mobilenet_v3_large()``,
      split into ``features.*`` keys and the rest (classifier), in state_dict order.
  * torchvision_mobilenet_v3_large_dilated_ref.npz
      input ``x`` and the outputs f1..f4 of the *dilated* feature extractor
      (as used by torchvision's DeepLabV3/LRASPP) at the four matting taps.

This script needs torchvision and must ONLY be run in a throwaway venv outside
the repo (never install torch/torchvision into /work/main/.venv):

    python3 -m venv /tmp/tvvenv && /tmp/tvvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy
    /tmp/tvvenv/bin/python tests/data/make_torchvision_fixture.py

Fill recipe (reproducible without torchvision): iterate over
``features.state_dict().items()`` in order with index ``i``; for floating
tensors, ``g = torch.Generator().manual_seed(i)``; keys ending in
``running_var`` get ``0.5 + torch.rand(shape, generator=g)``, all others get
``torch.randn(shape, generator=g) * 0.1``; integer tensors
(``num_batches_tracked``) are left unchanged. Input is
``torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1234))``
fed straight into ``features`` (no ImageNet normalisation), eval mode.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf

HERE = Path(__file__).resolve().parent
JSON_PATH = HERE / "torchvision_mobilenet_v3_large.json"
NPZ_PATH = HERE / "torchvision_mobilenet_v3_large_dilated_ref.npz"

RECIPE = (
    "features.state_dict() items in order with index i: floating tensors get "
    "g=torch.Generator().manual_seed(i); keys ending 'running_var' -> 0.5+torch.rand(shape,generator=g), "
    "else torch.randn(shape,generator=g)*0.1; integer tensors (num_batches_tracked) unchanged; "
    "model = MobileNetV3(*_mobilenet_v3_conf('mobilenet_v3_large', dilated=True)).features, eval mode; "
    "x = torch.rand(1,3,64,64,generator=torch.Generator().manual_seed(1234)) fed directly (no normalisation); "
    "f1=features[0:2](x), f2=features[2:4](f1), f3=features[4:7](f2), f4=features[7:17](f3)"
)


def deterministic_fill(module: torch.nn.Module) -> None:
    sd = module.state_dict()
    new_sd = {}
    for i, (key, t) in enumerate(sd.items()):
        if t.is_floating_point():
            g = torch.Generator().manual_seed(i)
            if key.endswith("running_var"):
                v = 0.5 + torch.rand(t.shape, generator=g)
            else:
                v = torch.randn(t.shape, generator=g) * 0.1
            new_sd[key] = v.to(t.dtype)
        else:
            new_sd[key] = t.clone()
    module.load_state_dict(new_sd, strict=True)


def main() -> None:
    torch.set_num_threads(1)

    # 1. names / shapes of the standard (non-dilated) model.
    full = torchvision.models.mobilenet_v3_large(weights=None)
    features, other = [], []
    for key, t in full.state_dict().items():
        entry = [key, list(t.shape)]
        (features if key.startswith("features.") else other).append(entry)

    # 2. dilated variant, as torchvision builds it for segmentation.
    inverted_residual_setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_large", dilated=True)
    m = MobileNetV3(inverted_residual_setting, last_channel)
    feats = m.features
    feats.eval()
    deterministic_fill(feats)

    # Dilation does not change parameter names/shapes.
    dil_shapes = [[k, list(t.shape)] for k, t in feats.state_dict().items()]
    assert dil_shapes == [[k[len("features."):], s] for k, s in features], "dilated/standard key mismatch"
    assert len(feats) == 17, len(feats)

    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        f1 = feats[0:2](x)
        f2 = feats[2:4](f1)
        f3 = feats[4:7](f2)
        f4 = feats[7:17](f3)
    assert tuple(f1.shape) == (1, 16, 32, 32), f1.shape
    assert tuple(f2.shape) == (1, 24, 16, 16), f2.shape
    assert tuple(f3.shape) == (1, 40, 8, 8), f3.shape
    assert tuple(f4.shape) == (1, 960, 4, 4), f4.shape
    for name, f in (("f1", f1), ("f2", f2), ("f3", f3), ("f4", f4)):
        assert torch.isfinite(f).all(), name

    payload = {
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "features": features,
        "other": other,
        "recipe": RECIPE,
    }
    JSON_PATH.write_text(json.dumps(payload, indent=1) + "\n")

    np.savez_compressed(
        NPZ_PATH,
        x=x.numpy().astype(np.float32),
        f1=f1.numpy().astype(np.float32),
        f2=f2.numpy().astype(np.float32),
        f3=f3.numpy().astype(np.float32),
        f4=f4.numpy().astype(np.float32),
    )
    print(f"wrote {JSON_PATH} ({len(features)} feature keys, {len(other)} other keys)")
    print(f"wrote {NPZ_PATH} ({NPZ_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

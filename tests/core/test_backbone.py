"""The backbone is torchvision's dilated MobileNetV3-Large, without importing torchvision.

The fixtures under tests/data were recorded once from torchvision 0.29.1 by
tests/data/make_torchvision_fixture.py (run in a throwaway venv).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from core.model.backbone import MobileNetV3LargeEncoder

DATA = Path(__file__).parent.parent / "data"


def _fixture():
    return json.loads((DATA / "torchvision_mobilenet_v3_large.json").read_text())


def test_parameter_names_and_shapes_equal_torchvision_features():
    expected = [(name, tuple(shape)) for name, shape in _fixture()["features"]]
    ours = [(name, tuple(t.shape)) for name, t in MobileNetV3LargeEncoder().state_dict().items()]
    assert ours == expected


def test_a_torchvision_state_dict_loads_strictly_each_tensor_into_its_place():
    """Every torchvision name lands in the tensor of that name (each filled with its own
    index, so two same-shaped tensors swapped would show), and a missing one is refused."""
    names = _fixture()["features"]
    state = {}
    for i, (name, shape) in enumerate(names):
        dtype = torch.long if name.endswith("num_batches_tracked") else torch.float32
        state[name] = torch.full(shape, i, dtype=dtype)
    encoder = MobileNetV3LargeEncoder()
    encoder.load_state_dict(state, strict=True)
    loaded = encoder.state_dict()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in state.items())
    first = names[0][0]  # the stem convolution's weight
    del state[first]
    with pytest.raises(RuntimeError, match=re.escape(first)):
        MobileNetV3LargeEncoder().load_state_dict(state, strict=True)


def test_dilated_features_equal_torchvision_numerically():
    """Same deterministic weights and input as the fixture script → the same four taps."""
    encoder = MobileNetV3LargeEncoder()
    filled = {}
    for i, (name, tensor) in enumerate(encoder.state_dict().items()):
        if not tensor.is_floating_point():
            filled[name] = tensor
            continue
        g = torch.Generator().manual_seed(i)
        if name.endswith("running_var"):
            filled[name] = 0.5 + torch.rand(tensor.shape, generator=g)
        else:
            filled[name] = torch.randn(tensor.shape, generator=g) * 0.1
    encoder.load_state_dict(filled, strict=True)
    encoder.eval()
    ref = np.load(DATA / "torchvision_mobilenet_v3_large_dilated_ref.npz")
    with torch.no_grad():
        taps = encoder(torch.from_numpy(ref["x"]))
    for name, tap in zip(("f1", "f2", "f3", "f4"), taps, strict=True):
        np.testing.assert_allclose(tap.numpy(), ref[name], rtol=1e-4, atol=1e-5, err_msg=name)

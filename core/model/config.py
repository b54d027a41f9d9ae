"""Typed configuration of the matting network, with named presets."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters the paper leaves open; ``paper()`` is the published 9.69 GMACs model.

    Channel counts refer to the maps the module produces. The backbone is fixed
    (MobileNetV3-Large, last stage dilated) and is not configurable.
    """

    aspp_channels: int = 128
    """ASPP output channels at 1/16 (DeepLabV3 uses 256; 128 fits the paper's budget)."""
    aspp_rates: tuple[int, ...] = (3, 6, 9)
    """Dilation rates of the three 3x3 ASPP branches at output stride 16."""
    key_channels: int = 64
    """Key (and query) width of the attention memory."""
    value_channels: int = 128
    """Value width of the attention memory."""
    memory_channels: int = 128
    """Width of the reconstructed 1/16 map produced by fusing the readout with frame t's value."""
    decoder_channels: tuple[int, int, int, int] = (64, 32, 16, 12)
    """Output widths of the up-sampling blocks at 1/8, 1/4, 1/2 and full resolution."""
    output_hidden: int = 16
    """Width of the first 3x3 stage of the output block (the DGF's hidden features)."""
    guided_filter_hidden: int = 16
    """Width of the Deep Guided Filter's 1x1 conv stack."""

    @classmethod
    def paper(cls) -> NetworkConfig:
        """The configuration measured at 9.69 GMACs at 512x512 (see docs/model.md)."""
        return cls()

    @classmethod
    def lite(cls) -> NetworkConfig:
        """A narrow ASPP and memory for tests and tiny CPU training runs."""
        return cls(
            aspp_channels=32,
            key_channels=16,
            value_channels=32,
            memory_channels=32,
            decoder_channels=(32, 16, 16, 12),
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NetworkConfig:
        raw = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ValueError(f"unknown NetworkConfig fields: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

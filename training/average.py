"""Weight-space average of two checkpoints of the same network.

    python -m training.average BEFORE.safetensors AFTER.safetensors --weight 0.5 -o OUT

Every floating-point tensor becomes ``(1 - weight) x BEFORE + weight x AFTER``; integer
buffers (batch norm's step counts) are AFTER's. Averaging a fine-tuned network with the one
it started from ("WiSE-FT", Wortsman et al., 2022) keeps much of what the fine-tuning gained
on new data while giving back less of what the starting point was good at: here, stage 3's
gain on real people without most of its loss on the synthetic held-out sets
(docs/weights.md). Metadata: AFTER's, plus the average's record.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from core.weights import (
    WeightsError,
    file_hash,
    load_into,
    load_network,
    read_weights,
    save_weights,
)


def average(before, after, weight: float):
    """A new network: ``before`` and ``after`` (same configuration) averaged."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    if before.config != after.config:
        raise ValueError("the two checkpoints are of different network configurations")
    a, b = before.state_dict(), after.state_dict()
    mixed = {
        k: torch.lerp(a[k], b[k], weight) if b[k].is_floating_point() else b[k].clone() for k in b
    }
    out = copy.deepcopy(after).eval()
    load_into(out, mixed, source="average")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.average", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--weight", type=float, default=0.5, help="AFTER's share (0.5)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        before, after = load_network(args.before), load_network(args.after)
        _, meta = read_weights(args.after)
        mixed = average(before, after, args.weight)
    except (WeightsError, ValueError) as exc:
        parser.exit(2, f"memmatte: {exc}\n")
    reserved = {"format", "format_version", "config", "stage", "auto_long_side"}
    extra = {k: v for k, v in meta.items() if k not in reserved}
    record = {"before": str(args.before), "before_sha256": file_hash(args.before),
              "after": str(args.after), "after_sha256": file_hash(args.after),
              "weight": args.weight}  # fmt: skip
    extra["average"] = json.dumps(record)
    save_weights(mixed, args.output, stage="average", metadata=extra)
    print(
        f"wrote {args.output}: {1 - args.weight:g} x {args.before} + {args.weight:g} x {args.after}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

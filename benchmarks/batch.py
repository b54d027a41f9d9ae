"""Throughput of the image-sequence processor: a whole run vs pure inference, same frames.

    python benchmarks/batch.py                       # 24 frames, 1920x1080 half-float EXR
    python benchmarks/batch.py --frames 48 --device cuda --precision fp16

Writes a scene-linear half-float EXR sequence (not timed), then measures
  inference: ``MattingSession`` over the frames already decoded and converted to sRGB in memory;
  run:       ``hosts.exr.process_shot`` on the files (read, OCIO conversion, inference,
             conversion back, premultiplied RGBA half EXR with zip compression, atomic rename).
The run overlaps I/O with inference (prefetch and write-behind threads), so on a machine with
cores to spare the run's wall time approaches the inference time; the report also gives how
long inference waited for a read or a write slot, and the CPU time the I/O adds per frame.
Inference and run alternate ``--repeats`` times and the pair with the median overhead is
shown, with every pair's overhead.

Before that, each I/O stage of the processor runs alone on the first 4 plates (with the
network's output for one of them) and its CPU time per frame is reported:
read, sanitise, to_network (OCIO colour to sRGB), to_plate (the foreground back), premultiply
(channels, premultiplication and half conversion), write (header and atomic EXR write).
``--stages-only`` stops there (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_plates(folder: Path, count: int, height: int, width: int) -> list[Path]:
    import OpenImageIO as oiio

    from benchmarks._common import frames as make_frames
    from hosts.exr.colour import conversion

    to_linear = conversion("lin_rec709")
    paths = []
    for i, srgb in enumerate(make_frames(count, height, width)):
        linear = to_linear.to_plate(srgb.astype(np.float32) / 255.0)
        path = folder / f"plate.{1001 + i}.exr"
        spec = oiio.ImageSpec(width, height, 3, oiio.HALF)
        spec.attribute("compression", "zip")
        out = oiio.ImageOutput.create(str(path))
        out.open(str(path), spec)
        out.write_image(linear)
        out.close()
        paths.append(path)
    return paths


STAGES = ("read", "sanitise", "to_network", "to_plate", "premultiply", "write")


def stage_costs(
    paths: list[Path],
    compression: str,
    alpha: np.ndarray,
    foreground: np.ndarray,
    repeats: int = 3,
) -> dict[str, float]:
    """CPU milliseconds per frame of each I/O stage of the processor, run alone over
    ``paths`` with the network's ``alpha`` and sRGB ``foreground`` of one frame (the best of
    ``repeats`` passes, to resist other load). Process CPU time, as OpenImageIO and OpenEXR
    decode and encode on their own threads; nothing else runs yet."""
    from hosts.exr import colour
    from hosts.exr.io import (
        OutputFormat,
        matte_pixels,
        output_spec,
        read_plate,
        write_atomic,
    )

    fmt = OutputFormat(compression=compression)
    best = dict.fromkeys(STAGES, float("inf"))
    with tempfile.TemporaryDirectory(prefix="memmatte-stages-") as tmp:
        for _ in range(repeats):
            spent = np.zeros(len(STAGES))
            for path in paths:
                marks = [time.process_time()]
                plate = read_plate(path, rgb_only=True)
                marks.append(time.process_time())
                rgb, _ = colour.sanitise(plate.rgb())
                marks.append(time.process_time())
                conversion = colour.conversion(colour.default_space(plate.spec))
                conversion.to_network(rgb)
                marks.append(time.process_time())
                fg = conversion.to_plate(foreground)
                marks.append(time.process_time())
                names, pixels = matte_pixels(plate.spec, None, alpha, fg, fmt)
                marks.append(time.process_time())
                spec = output_spec(plate.spec, names, fmt, conversion.plate_space, {})
                write_atomic(Path(tmp) / path.name, spec, pixels)
                marks.append(time.process_time())
                spent += np.diff(marks)
            for stage, seconds in zip(STAGES, spent, strict=True):
                best[stage] = min(best[stage], 1000 * seconds / len(paths))
    return best


def network_matte(frames: list[np.ndarray], net: object) -> tuple[np.ndarray, np.ndarray]:
    """The network's alpha and foreground for the third of ``frames`` (sRGB). The stages'
    costs depend on the values (a soft matte's faint tails are subnormal halves, and
    compress worse than zeros and ones), so they are measured on a real output."""
    from core import MattingSession

    result = list(MattingSession(frames[:3], weights=net, device="cpu"))[-1]
    return result.alpha, result.foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="1920x1080", help="WxH")
    parser.add_argument("--weights", type=Path, help="default: bundled, else random paper net")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--io-threads", type=int, default=0, help="0: automatic")
    parser.add_argument("--compression", default="zip")
    parser.add_argument(
        "--repeats", type=int, default=3, help="inference/run pairs; the median pair is shown"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--stages-only", action="store_true", help="only the CPU time of each I/O stage"
    )
    args = parser.parse_args(argv)

    import torch

    from benchmarks._common import network
    from core import MattingSession
    from core.session import auto_downsample_ratio
    from hosts.exr import Model, process_shot
    from hosts.exr.colour import conversion
    from hosts.exr.io import read_plate

    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="memmatte-bench-") as tmp:
        folder = Path(tmp)
        paths = write_plates(folder, args.frames, height, width)
        net, source = network(args.weights)
        to_srgb = conversion("lin_rec709")
        decoded = [to_srgb.to_network(read_plate(p).rgb()) for p in paths[:3]]
        stages = stage_costs(paths[:4], args.compression, *network_matte(decoded, net))
        if args.stages_only:
            return _report_stages(args, width, height, stages)
        model = Model(net, "benchmark")
        ratio = auto_downsample_ratio(height, width, net.auto_long_side)
        decoded += [to_srgb.to_network(read_plate(p).rgb()) for p in paths[3:]]

        def session(frames):
            return MattingSession(
                frames,
                weights=net,
                device=args.device,
                downsample_ratio=ratio,
                precision=args.precision,
            )

        for _ in session(decoded[:3]):  # warm-up: allocator, kernel selection
            pass
        # Alternating repeats, the median of each: one pair is at the mercy of whatever
        # else the machine (or its neighbours) happens to run.
        inference, inference_cpu, run, run_cpu, reports = [], [], [], [], []
        for repeat in range(args.repeats):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            started, cpu = time.perf_counter(), time.process_time()
            for _ in session(decoded):
                pass
            inference.append(time.perf_counter() - started)
            inference_cpu.append(time.process_time() - cpu)

            started, cpu = time.perf_counter(), time.process_time()
            reports.append(
                process_shot(
                    str(folder / "plate.####.exr"),
                    str(folder / f"matte{repeat}" / "m.####.exr"),
                    weights=model,
                    device=args.device,
                    precision=args.precision,
                    downsample_ratio=ratio,
                    compression=args.compression,
                    io_threads=args.io_threads,
                )
            )
            run.append(time.perf_counter() - started)
            run_cpu.append(time.process_time() - cpu)
        del decoded
        pick = sorted(range(args.repeats), key=lambda i: run[i] / inference[i])[args.repeats // 2]
        overheads = sorted(100 * (r / i - 1) for r, i in zip(run, inference, strict=True))
        report = reports[pick]
        inference, inference_cpu = inference[pick], inference_cpu[pick]
        run, run_cpu = run[pick], run_cpu[pick]

    figures = {
        "frames": args.frames,
        "size": f"{width}x{height}",
        "downsample_ratio": round(ratio, 4),
        "weights": source,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "inference_s": round(inference, 2),
        "run_s": round(run, 2),
        "overhead_pct": round(100 * (run / inference - 1), 1),
        "overhead_pct_each": [round(v, 1) for v in overheads],
        "inference_fps": round(args.frames / inference, 2),
        "run_fps": round(args.frames / run, 2),
        "read_wait_s": round(report.read_wait, 2),
        "write_wait_s": round(report.write_wait, 2),
        # CPU-seconds per frame that reading, colour and writing add to inference: the
        # I/O threads hide behind inference when the machine has this much spare CPU time.
        "io_cpu_s_per_frame": round((run_cpu - inference_cpu) / args.frames, 3),
        "stage_cpu_ms_per_frame": {k: round(v, 1) for k, v in stages.items()},
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.frames} frames {width}x{height} half EXR, ratio {ratio:.3f}, {source}")
        print(f"  pure inference  {inference:7.2f} s  ({figures['inference_fps']} frames/s)")
        print(f"  whole run       {run:7.2f} s  ({figures['run_fps']} frames/s)")
        each = ", ".join(f"{v:+.1f}" for v in overheads)
        print(
            f"  overhead        {figures['overhead_pct']:+.1f} %  (target: within 15 %; "
            f"median of {args.repeats}: {each})"
        )
        print(f"  inference waited {report.read_wait:.2f} s on reads, "
              f"{report.write_wait:.2f} s on writes")  # fmt: skip
        print(f"  I/O work        {figures['io_cpu_s_per_frame']:.3f} CPU-s per frame")
        _print_stages(stages)
    return 0


def _report_stages(
    args: argparse.Namespace, width: int, height: int, stages: dict[str, float]
) -> int:
    if args.json:
        figures = {"frames": args.frames, "size": f"{width}x{height}"}
        figures["stage_cpu_ms_per_frame"] = {k: round(v, 1) for k, v in stages.items()}
        print(json.dumps(figures))
    else:
        print(f"{args.frames} frames {width}x{height} half EXR, {args.compression} output")
        _print_stages(stages)
    return 0


def _print_stages(stages: dict[str, float]) -> None:
    print("  I/O stages, CPU ms per frame (each stage alone):")
    for stage, ms in stages.items():
        print(f"    {stage:12s} {ms:6.1f}")
    print(f"    {'total':12s} {sum(stages.values()):6.1f}")


if __name__ == "__main__":
    raise SystemExit(main())

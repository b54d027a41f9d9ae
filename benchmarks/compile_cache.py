"""A farm chunk end to end: eager, in-process ``torch.compile``, and ahead-of-time compiled
graphs from the cache, cold (compiled into an empty cache) and warm (loaded).

    python benchmarks/compile_cache.py                          # 512x288 and 1920x1080
    python benchmarks/compile_cache.py --sizes 512x288 --precision bf16

Writes a shot of 26 EXR plates (half float, synthetic) per size, then times one 24-frame
chunk (frames 1003-1026, so it also reads two frames of memory pre-roll) per mode, each in
its own process, from process start to the process's exit after the last file is written:

  eager  python -m core.batch ... --eager
  cold   python -m core.batch ... --compile, cache folder empty (compiles and stores)
  warm   python -m core.batch ...            (the default: loads the cached graphs)
  jit    process_shot(compile=True)          (torch.compile in the process)

``--interleaved`` instead compares the per-frame time of the cached package with
``torch.compile`` in one process, frame by frame in turn, which is the fairer comparison on
a shared machine.

Per-frame time is taken between the first and the last "frame" events of the JSON log
(inference overlapped with reading and writing, as on a farm). "ready" is process start to
the compiled graphs being loaded (cold: compiled too), from the "compiled" event. Prints a
table, and JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.cli import frame_size  # noqa: E402
from core.runtime import cpu_capability  # noqa: E402
from hosts.client import events  # noqa: E402
from hosts.client.command import BatchCommand  # noqa: E402

CHUNK = "1003-1026"
MODES = ("eager", "cold", "warm", "jit")
JIT_SCRIPT = """
import sys
import torch
from hosts.client.events import encode
from hosts.exr import process_shot
plates, out, frames, ratio, precision, threads = sys.argv[1:7]
if threads != "0":
    torch.set_num_threads(int(threads))
def progress(e):
    print(encode(e), flush=True)
process_shot(plates, out, frames=frames, compile=True, device="cpu", precision=precision,
             downsample_ratio=float(ratio) if ratio != "auto" else "auto", progress=progress)
"""


def write_plates(folder: Path, height: int, width: int) -> str:
    import numpy as np
    import OpenImageIO as oiio

    from benchmarks._common import frames

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames(26, height, width)):
        linear = (frame.astype(np.float32) / 255.0) ** 2.2  # scene-linear, as plates are
        spec = oiio.ImageSpec(width, height, 3, "half")
        out = oiio.ImageOutput.create(str(folder / f"plate.{1001 + i}.exr"))
        out.open(str(folder / f"plate.{1001 + i}.exr"), spec)
        out.write_image(linear)
        out.close()
    return str(folder / "plate.####.exr")


def run(mode: str, plates: str, out: Path, cache: Path, args: argparse.Namespace) -> dict:
    if mode == "jit":
        command = [sys.executable, "-c", JIT_SCRIPT, plates, str(out), CHUNK, args.ratio]
        command += [args.precision, str(args.threads or 0)]
    else:
        command = BatchCommand(
            (plates,),
            output=str(out),
            frames=CHUNK,
            device="cpu",
            precision=args.precision,
            downsample_ratio=args.ratio,
            cache_dir=str(cache),
            threads=args.threads or None,
            compile={"eager": "eager", "cold": "aot", "warm": "cached"}[mode],
            log_format="json",
        ).argv(sys.executable)
    started = time.time()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    total = time.time() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-3000:]}")
    records = [events.parse(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    frames = [e.time for e in records if isinstance(e, events.Frame)]
    compiled = [e for e in records if isinstance(e, events.Compiled)]
    record = {
        "mode": mode,
        "seconds": round(total, 2),
        "frames": len(frames),
        "ms_per_frame": round((frames[-1] - frames[0]) / (len(frames) - 1) * 1000, 1),
        "first_frame_s": round(frames[0] - started, 2),
    }
    if compiled:
        record["ready_s"] = round(compiled[0].time - started, 2)
        record["graphs"] = compiled[0].message
    return record


def interleaved(size: str, args: argparse.Namespace, rounds: int = 40) -> dict:
    """Per-frame time of the cached package against ``torch.compile`` in this process: two
    sessions on the same frames, one frame of each in turn, so both see the same load on a
    shared machine; min and median ms over ``rounds`` frames after 4 warm-up frames each."""
    import statistics

    import torch

    from benchmarks._common import frames, network
    from core import MattingSession

    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = frame_size(size)
    net, _ = network(None)
    clip = frames(rounds + 4, height, width)
    ratio = "auto" if args.ratio == "auto" else float(args.ratio)
    common = {"device": "cpu", "precision": args.precision, "downsample_ratio": ratio}
    aot = MattingSession(clip, weights=net, compile="aot", cache_dir=args.cache_dir, **common)
    jit = MattingSession(clip, weights=net, compile=True, **common)
    streams = {"aot": iter(aot), "jit": iter(jit)}
    times: dict[str, list[float]] = {"aot": [], "jit": []}
    for i in range(rounds + 4):
        for name, stream in streams.items():
            t = time.perf_counter()
            next(stream)
            if i >= 4:
                times[name].append((time.perf_counter() - t) * 1000)
    record = {"size": size, "precision": args.precision, "threads": torch.get_num_threads()}
    for name, values in times.items():
        record[f"{name}_min_ms"] = round(min(values), 1)
        record[f"{name}_median_ms"] = round(statistics.median(values), 1)
    return record


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="512x288,1920x1080", help="WIDTHxHEIGHT, comma-separated")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--ratio", default="auto", help="--downsample-ratio of the runs")
    p.add_argument("--threads", type=int, help="--threads of the runs (default: torch's)")
    p.add_argument(
        "--cache-dir",
        type=Path,
        help="an existing cache folder (e.g. to time only warm runs); default: a new empty one",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--interleaved",
        action="store_true",
        help="instead: per-frame time of the cached package against torch.compile in one "
        "process, frame by frame in turn (--cache-dir: where the package is, or is built)",
    )
    args = p.parse_args()

    import torch

    if args.interleaved:
        for size in args.sizes.split(","):
            print(json.dumps(interleaved(size, args)), flush=True)
        return 0

    capability = cpu_capability()
    print(f"torch {torch.__version__}, CPU capability {capability}, precision {args.precision}")
    results = []
    work = Path(tempfile.mkdtemp(prefix="memmatte-compile-cache-"))
    try:
        for size in args.sizes.split(","):
            height, width = frame_size(size)
            plates = write_plates(work / size / "in", height, width)
            cache = args.cache_dir or work / size / "cache"
            for mode in args.modes.split(","):
                record = run(mode, plates, work / size / mode / "m.####.exr", cache, args)
                record.update(size=size, precision=args.precision, cpu_capability=capability)
                results.append(record)
                ready = (
                    f", graphs ready at {record['ready_s']:.1f} s" if "ready_s" in record else ""
                )
                print(
                    f"{size:>10} {mode:6} {record['seconds']:7.1f} s end to end, "
                    f"{record['ms_per_frame']:7.1f} ms/frame, first frame at "
                    f"{record['first_frame_s']:.1f} s{ready}",
                    flush=True,
                )
                if args.json:
                    args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

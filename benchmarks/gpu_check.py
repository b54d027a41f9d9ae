"""One prepared check for a lent GPU machine: CUDA tests, then eager and ahead-of-time
compiled session timings, all results under $OUT. About 6 minutes on one H200.

    python3 benchmarks/gpu_check.py                 # writes $OUT/ (default /tmp/memmatte-gpu-check)
    python3 benchmarks/gpu_check.py --budget 200    # stop starting new work after 200 s
    python3 benchmarks/gpu_check.py --parts tests   # only the CUDA tests (or eager, aot, export)

Needs only torch (CUDA build), numpy and safetensors: no OpenImageIO, no bpy. Every timing
runs in its own process with a timeout, so a crash or a slow compile costs only that line;
work that no longer fits the budget is listed as skipped.

Timings: ``MattingSession`` on synthetic uint8 frames, results copied back to numpy (what
every host does), ms/frame = mean over 24 frames after 4 warm-up frames. 1920x1080 runs the
network at ratio 0.25 with the Deep Guided Filter, like benchmarks/speed.py. "aot cold"
compiles the packages into an empty cache (seconds in ``build_s``); "aot warm" is a fresh
process loading them (``prepare_s``: session creation to graphs loaded).

"export": the Nuke TorchScript exports (default and ``--legacy-ops``, 1920x1080 at ratio
0.25, bundled weights) moved as Nuke's Inference node moves them, ``.to("cuda")`` then
``.half()``, against a CUDA float32 session on the same frames (max abs difference of alpha
and foreground), and a frozen export of the same graph, which is expected to fail on CUDA
(its weights stay on the CPU: what the export no longer does).

Files in $OUT: env.json, results.json (one record per timing), export.json, pytest.log,
pytest.xml and gpu_check.log (everything printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
SIZES = {"512x288": (288, 512, 1.0), "1920x1080": (1080, 1920, 0.25)}
FRAMES, WARMUP = 24, 4


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=330.0, help="seconds to start new work in")
    p.add_argument("--one", nargs=4, metavar=("MODE", "SIZE", "PRECISION", "CACHE"))
    p.add_argument("--export-check", metavar="SIZE", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cuda", help="cpu: a dry run of this script")
    p.add_argument(
        "--parts",
        default="export,eager,aot,tests",
        help="what to run, in this order: the Nuke exports on the device, eager timings, "
        "512x288 packages, the CUDA tests, then 1080p and fp32 packages (a second run can "
        "pick up what the budget left out)",
    )
    args = p.parse_args()
    if args.one:
        print(json.dumps(_time_one(*args.one, device=args.device)))
        return 0
    if args.export_check:
        for record in _export_check(args.export_check, args.device):
            print(json.dumps(record), flush=True)
        return 0
    out = Path(os.environ.get("OUT") or "/tmp/memmatte-gpu-check")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "gpu_check.log"
    log.write_text("")

    def say(text: str) -> None:
        line = f"[{time.perf_counter() - STARTED:6.1f} s] {text}"
        print(line, flush=True)
        with open(log, "a") as f:
            f.write(line + "\n")

    env = _environment()
    (out / "env.json").write_text(json.dumps(env, indent=2) + "\n")
    say(f"environment: {json.dumps(env)}")
    if args.device == "cuda" and not env.get("cuda_available"):
        say("no CUDA device: nothing to check")
        return 1

    deadline = STARTED + args.budget
    results: list[dict] = []

    def remaining() -> float:
        return deadline - time.perf_counter()

    def timing(mode: str, size: str, precision: str, cache: Path, cap: float) -> None:
        name = f"{mode} {size} {precision}"
        limit = min(cap, remaining())
        if limit < 20:
            say(f"skipped {name}: out of budget")
            results.append({"mode": mode, "size": size, "precision": precision, "skipped": True})
            return
        command = [sys.executable, __file__, "--one", mode, size, precision, str(cache)]
        command += ["--device", args.device]
        record = {"mode": mode, "size": size, "precision": precision}
        try:
            run = subprocess.run(
                command, capture_output=True, text=True, timeout=limit, cwd=ROOT, env=_env()
            )
            lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
            if run.returncode == 0 and lines:
                record.update(json.loads(lines[-1]))
            else:
                record["error"] = (run.stderr or run.stdout)[-2000:]
        except subprocess.TimeoutExpired:
            record["error"] = f"timed out after {limit:.0f} s"
        results.append(record)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        say(f"{name}: {_describe(record)}")

    def tests() -> None:
        limit = min(150.0, remaining())
        if limit < 30:
            say("skipped pytest: out of budget")
            return
        files = ["tests/core/test_cuda.py", "tests/training/test_cuda.py"]
        files.append("tests/hosts/exr/test_cuda.py")  # skips without OpenImageIO
        command = [sys.executable, "-m", "pytest", "-q", "-m", "", "-p", "no:cacheprovider"]
        command += [f"--junitxml={out / 'pytest.xml'}", *files]
        say(f"pytest {' '.join(files)} (limit {limit:.0f} s)")
        try:
            run = subprocess.run(
                command, capture_output=True, text=True, timeout=limit, cwd=ROOT, env=_env()
            )
            text, code = run.stdout + run.stderr, run.returncode
        except subprocess.TimeoutExpired as exc:
            text, code = f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out", "timeout"
        (out / "pytest.log").write_text(str(text))
        summary = [line for line in str(text).splitlines() if line.strip()][-1:]
        say(f"pytest exit {code}: {summary[0] if summary else ''}")

    def aot(size: str, precision: str) -> None:
        # Cold: compile into an empty cache; warm: a fresh process loading the packages.
        cache = Path("/tmp") / f"memmatte-gpu-check-{os.getpid()}-{size}-{precision}"
        timing("aot-cold", size, precision, cache, 200)
        timing("aot-warm", size, precision, cache, 60)

    def exports() -> None:
        limit = min(180.0, remaining())
        if limit < 30:
            say("skipped the export check: out of budget")
            return
        size = "1920x1080" if args.device == "cuda" else "160x96"
        command = [sys.executable, __file__, "--export-check", size, "--device", args.device]
        try:
            run = subprocess.run(
                command, capture_output=True, text=True, timeout=limit, cwd=ROOT, env=_env()
            )
            lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
            records = [json.loads(line) for line in lines]
            if run.returncode != 0:
                records.append({"error": (run.stderr or run.stdout)[-2000:]})
        except subprocess.TimeoutExpired:
            records = [{"error": f"timed out after {limit:.0f} s"}]
        (out / "export.json").write_text(json.dumps(records, indent=2) + "\n")
        for r in records:
            say(f"export {json.dumps(r)[:400]}")

    parts = args.parts.split(",")
    if "export" in parts:
        exports()
    if "eager" in parts:  # every size and precision: fast, and the baseline of the rest
        for size in SIZES:
            for precision in ("fp32", "fp16", "bf16"):
                timing("eager", size, precision, out, 60)
    if "aot" in parts:
        aot("512x288", "fp16")
    if "tests" in parts:
        tests()
    if "aot" in parts:
        aot("1920x1080", "fp16")
        aot("512x288", "fp32")

    say("summary (ms/frame):")
    for r in results:
        say(f"  {r['mode']:9} {r['size']:10} {r['precision']:5} {_describe(r)}")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _environment() -> dict:
    import numpy
    import torch

    sys.path.insert(0, str(ROOT))
    from core.runtime import cpu_capability

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "cpu_capability": cpu_capability(),
        "cpus": os.cpu_count(),
    }
    # AOTInductor compiles its CUDA wrapper against the CUDA toolkit's headers.
    from torch.utils import cpp_extension

    info["cuda_home"] = cpp_extension.CUDA_HOME
    info["nvcc"] = shutil.which("nvcc")
    info["cxx"] = shutil.which("g++") or shutil.which("c++")
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["capability"] = "sm_{}{}".format(*torch.cuda.get_device_capability())
    try:
        import OpenImageIO  # noqa: F401

        info["openimageio"] = True
    except ImportError:
        info["openimageio"] = False
    return info


def _describe(r: dict) -> str:
    if r.get("skipped"):
        return "skipped (budget)"
    if "error" in r:
        return "ERROR " + r["error"].strip().splitlines()[-1][:300]
    text = f"{r['ms_per_frame']:.2f} ms/frame ({1000 / r['ms_per_frame']:.1f} frames/s)"
    if r.get("build_s"):
        text += f", compiled in {r['build_s']:.1f} s"
    if r.get("prepare_s") is not None:
        text += f", prepare {r['prepare_s']:.2f} s"
    return text + f", process {r['process_s']:.1f} s, peak GPU {r['peak_gpu_mib']:.0f} MiB"


def _export_check(size: str, device: str) -> list[dict]:
    """The Nuke exports moved to ``device`` in float32 and half, against the session."""
    import tempfile

    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from benchmarks._common import frames, network
    from core import MattingSession
    from core.export import StatelessMatting, export, stacked_frames

    width, height = (int(v) for v in size.split("x"))
    ratio = 0.25 if width >= 1920 else 0.5
    net, _ = network(None)
    clip = [f.astype(np.float32) / 255 for f in frames(4, height, width)]
    reference = list(MattingSession(clip, weights=net, device=device, downsample_ratio=ratio))
    t = 3
    stacked = np.concatenate([clip[i].transpose(2, 0, 1) for i in stacked_frames(t)])[None]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("default", "legacy", "frozen"):
            path = Path(tmp) / f"{name}.pt"
            if name == "frozen":  # how the export was made before: weights frozen on the CPU
                model = StatelessMatting(net.float().cpu().eval(), height, width, ratio).eval()
                with torch.no_grad():
                    example = torch.rand(1, 9, height, width)
                    traced = torch.jit.trace(model, example, check_trace=False)
                    torch.jit.save(torch.jit.freeze(traced), str(path))
            else:
                export(net, path, fmt="torchscript", height=height, width=width, ratio=ratio,
                       legacy_ops=name == "legacy")  # fmt: skip
            module = torch.jit.load(str(path)).to(device)
            for dtype in (torch.float32, torch.float16):
                record = {"export": name, "size": size, "device": device, "dtype": str(dtype)}
                try:
                    module.to(dtype)
                    x = torch.from_numpy(stacked).to(device, dtype)
                    with torch.no_grad():
                        for _ in range(3):  # the profiling executor's first runs
                            out = module(x)
                        if device == "cuda":
                            torch.cuda.synchronize()
                        started = time.perf_counter()
                        out = module(x)
                        if device == "cuda":
                            torch.cuda.synchronize()
                    record["ms"] = round((time.perf_counter() - started) * 1000, 2)
                    record["out_dtype"] = str(out.dtype)
                    out = out.float().cpu().numpy()[0]
                    alpha = np.abs(out[3] - reference[t].alpha).max()
                    fgr = np.abs(out[:3].transpose(1, 2, 0) - reference[t].foreground).max()
                    record["alpha_max_diff"] = float(alpha)
                    record["foreground_max_diff"] = float(fgr)
                except Exception as error:
                    record["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                records.append(record)
    return records


def _time_one(mode: str, size: str, precision: str, cache: str, device: str) -> dict:
    import torch

    sys.path.insert(0, str(ROOT))
    from benchmarks._common import frames, network
    from core import MattingSession

    height, width, ratio = SIZES[size]
    net, _ = network(None)
    clip = frames(FRAMES + WARMUP, height, width)
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else lambda: None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    compile_mode = {"eager": False, "aot-cold": "aot", "aot-warm": "cached"}[mode]
    started = time.perf_counter()
    session = MattingSession(
        clip,
        weights=net,
        device=device,
        downsample_ratio=ratio,
        precision=precision,
        compile=compile_mode,
        cache_dir=cache,
    )
    record: dict = {"frames": FRAMES, "network_ratio": ratio}
    if session.cache is not None:
        existed = session.cache.has(session.graph_key(height, width))
        if not session.precompile(height, width, build=mode == "aot-cold"):
            raise SystemExit(f"{mode}: no package in {cache}")
        seconds = time.perf_counter() - started
        record["build_s" if not existed else "prepare_s"] = round(seconds, 2)
    stream = iter(session)
    for _ in range(WARMUP):
        next(stream)
    sync()
    t = time.perf_counter()
    count = sum(1 for _ in stream)
    sync()
    record["ms_per_frame"] = round((time.perf_counter() - t) / count * 1000, 3)
    record["process_s"] = round(time.perf_counter() - STARTED, 2)
    record["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else 0
    return record


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# One call on a lent GPU machine (the `device` tool): distil the default weights and their
# ablation on CUDA, then bring back every variant's final weights in fp16 (under 16 MiB each).
#
#   run(command="bash training/device_distill.sh", carry=["data/distill/rendered", "data/teacher"])
#
# Needs there: python3 with torch (CUDA), numpy, opencv, safetensors; here, before the call:
# the rendered clips and room plates (training.synthetic.rendered, see distill.toml) and the
# teacher's rvm.json + rvm.bin copied to data/teacher/ (training.teachers.npm_cache).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-runs/device}
BUDGET=${BUDGET:-430}
CONFIG=${CONFIG:-training/configs/distill.toml}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, numpy, cv2; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cv2', cv2.__version__)" | tee -a "$OUT/gpu.txt"
python3 -c "import training.distill, training.teachers.rvm, core.weights" || exit 3
python3 -m training.distill --config "$CONFIG" --device cuda \
    --time-budget "$BUDGET" --out /tmp/distill --set cache=false \
    --set 'teacher.model="data/teacher/rvm.json"' 2>&1 | tee "$OUT/distill.log"
python3 - "$OUT" <<'PY'
import sys
from pathlib import Path

import torch

from core.weights import load_network, read_weights, save_weights

out = Path(sys.argv[1])
for final in sorted(Path("/tmp/distill").glob("*/final.safetensors")):
    _, meta = read_weights(final)
    reserved = {"format", "format_version", "config", "stage", "auto_long_side"}
    extra = {k: v for k, v in meta.items() if k not in reserved}
    network = load_network(final)
    target = out / f"{final.parent.name}.safetensors"
    save_weights(network, target, stage=meta["stage"], dtype=torch.float16, metadata=extra)
    print(target, target.stat().st_size)
PY
cp /tmp/distill/log.jsonl "$OUT/log.jsonl" 2>/dev/null || true
# Optional: the compiled-session GPU check (benchmarks/gpu_check.py) in what time is left,
# its files packed into one (the tool brings back at most 8 files).
if [ -n "${GPU_CHECK_BUDGET:-}" ] && [ -f benchmarks/gpu_check.py ]; then
    mkdir -p /tmp/gpu_check
    OUT=/tmp/gpu_check timeout $((GPU_CHECK_BUDGET + 60)) python3 benchmarks/gpu_check.py \
        --budget "$GPU_CHECK_BUDGET" > /tmp/gpu_check/stdout.log 2>&1
    tar czf "$OUT/gpu_check.tgz" -C /tmp gpu_check
fi

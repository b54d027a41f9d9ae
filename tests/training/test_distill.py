"""The distillation recipe on tiny procedural clips with a small recurrent stand-in teacher."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext

import pytest
import torch
from torch import nn

from core.weights import load_network, read_weights
from training import distill
from training.distill import DataConfig, DistillConfig, TeacherConfig, VariantConfig


class CountingTeacher(nn.Module):
    """Recurrent like Robust Video Matting: alpha = frames seen so far / 10, foreground = the
    frame; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, src, r1, r2, r3, r4, downsample_ratio):
        self.calls += 1
        seen = (r1 if r1 is not None else torch.zeros_like(src[:, :1])) + 1
        return src, (seen / 10).clamp(0, 1), seen, r2, r3, r4


def _config(tmp_path, **changes) -> DistillConfig:
    config = DistillConfig(
        data=DataConfig(size=(48, 80), frames=5, procedural_clips=2, composites_per_clip=2,
                        empty_fraction=0.25, workers=1),
        teacher=TeacherConfig(warmup_frames=3, batch=2),
        variants=(VariantConfig("memory", clip_length=3, batch_size=1),
                  VariantConfig("ablated", clip_length=1, batch_size=3)),
        steps=4, warmup_steps=1, refine_fraction=0.25, precision="fp32",
        checkpoint_every=2, log_every=1, transfer_backbone=False, out=str(tmp_path / "run"),
    )  # fmt: skip
    return dataclasses.replace(config, **changes)


def test_teacher_targets_use_a_warm_state_from_frame_zero(tmp_path):
    clips = distill.build_clips(_config(tmp_path).data)
    distill.teacher_targets(CountingTeacher(), clips, TeacherConfig(warmup_frames=3), "cpu")
    # three warm-up frames, so frame 0 is the fourth the teacher sees
    assert clips.teacher_pha[:, 0].float().div(255).sub(0.4).abs().max() < 1e-2
    assert clips.teacher_pha[:, 4].float().div(255).sub(0.8).abs().max() < 1e-2


def test_clips_include_background_only_composites(tmp_path):
    clips = distill.build_clips(_config(tmp_path).data)
    assert len(clips) == 5  # 2 clips x 2 composites + round(4 x 0.25) background only
    empty = clips.pha.flatten(1).amax(1) == 0
    assert empty.sum() == 1
    assert torch.equal(clips.com[empty], clips.fgr[empty])


def test_every_variant_trains_the_same_steps_and_records_its_recipe(tmp_path):
    finals = distill.run(_config(tmp_path), torch.device("cpu"), False, None, CountingTeacher())
    assert set(finals) == {"memory", "ablated"}
    for path in finals.values():
        network = load_network(path)
        _, meta = read_weights(path)
        assert meta["steps"] == "4" and meta["stage"] == "distill"
        assert network.auto_long_side == 80


def test_the_refine_phase_trains_only_the_guided_filter(tmp_path):
    config = _config(tmp_path)
    assert distill._phase(3, 4, config, config.variants[0]) == {
        "refine": True, "backbone": False, "rest": False}  # fmt: skip
    assert distill._phase(0, 4, config, config.variants[0])["rest"]


def test_resumed_run_equals_an_uninterrupted_one_and_reuses_the_teacher_cache(
    tmp_path, monkeypatch
):
    whole = distill.run(
        _config(tmp_path / "a"), torch.device("cpu"), False, None, CountingTeacher()
    )

    step = distill.train_step
    calls = {"n": 0}

    def stop_at_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2 * 2:  # two variants x two steps, then the session ends
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(distill, "train_step", stop_at_third)
    config = _config(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        distill.run(config, torch.device("cpu"), False, None, CountingTeacher())
    monkeypatch.setattr(distill, "train_step", step)
    teacher = CountingTeacher()
    resumed = distill.run(config, torch.device("cpu"), True, None, teacher)

    assert teacher.calls == 0  # composites and teacher targets came from the cache
    for name in whole:
        a, _ = read_weights(whole[name])
        b, _ = read_weights(resumed[name])
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_a_second_stage_starts_from_the_given_weights(tmp_path):
    first = distill.run(
        _config(tmp_path / "a"), torch.device("cpu"), False, None, CountingTeacher()
    )
    memory = dataclasses.replace(_config(tmp_path).variants[0], init=str(first["memory"]))
    variant = distill._build_variant(memory, _config(tmp_path / "b"), CountingTeacher(), "cpu")
    saved, _ = read_weights(first["memory"])
    state = variant.network.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in saved)


def test_the_teacher_temporal_term_needs_frames_to_differ_like_the_teachers():
    still = torch.full((1, 3, 1, 8, 8), 0.5)
    moving = torch.linspace(0, 1, 3).view(1, 3, 1, 1, 1).expand(1, 3, 1, 8, 8)
    fgr = torch.zeros(1, 3, 3, 8, 8)
    without = distill.distill_loss(still, fgr, still, fgr, temporal_weight=0.0)
    assert distill.distill_loss(still, fgr, still, fgr) == without == 0
    flicker = distill.distill_loss(moving, fgr, still, fgr, 1.0)
    assert flicker > distill.distill_loss(moving, fgr, still, fgr, 0.0)


def test_photo_clips_are_trained_on_the_teachers_targets(tmp_path):
    import cv2
    import numpy as np

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), np.full((90, 120, 3), 200, np.uint8))
    data = DataConfig(size=(48, 80), frames=5, procedural_clips=1, composites_per_clip=1,
                      empty_fraction=0.0, workers=1, photo_clips=2, photo_root=str(photos))  # fmt: skip
    clips = distill.build_clips(data)
    assert clips.truth.tolist() == [True, False, False]
    distill.teacher_targets(CountingTeacher(), clips, TeacherConfig(warmup_frames=3), "cpu")
    vc = VariantConfig("memory", clip_length=2, batch_size=16)
    generator = torch.Generator().manual_seed(0)
    com, fgr, pha, tfgr, tpha = distill._batch(clips, vc, generator, "cpu")
    photo = (com - 200 / 255).abs().amax(dim=(1, 2, 3, 4)) < 0.02
    assert photo.any() and not photo.all()
    assert torch.equal(pha[photo], tpha[photo]) and torch.equal(fgr[photo], tfgr[photo])


def _person(height=60, width=40):
    """A photograph's cut-out: a solid rectangle of colour, alpha 255 inside, 0 around."""
    import numpy as np

    fgr = np.zeros((90, 120, 3), np.uint8)
    fgr[15 : 15 + height, 40 : 40 + width] = (200, 80, 40)
    pha = np.zeros((90, 120), np.uint8)
    pha[15 : 15 + height, 40 : 40 + width] = 255
    return fgr, pha


def test_cutout_clips_have_the_composites_own_exact_alpha():
    import numpy as np

    rng = np.random.default_rng(1)
    background = np.full((5, 48, 80, 3), 30, np.uint8)
    made = [distill._cutout_clip(_person(), background, rng) for _ in range(6)]
    for com, fgr, pha in made:
        assert com.shape == (5, 48, 80, 3) and fgr.shape == com.shape and pha.shape == (5, 48, 80)
        assert pha.max() == 255 and pha.min() == 0  # a person, and background around
        a = pha[..., None].astype(np.float32) / 255
        clean = a * fgr.astype(np.float32) + (1 - a) * 30.0
        # the composite is its own alpha and foreground over the background, up to the sensor
        # noise and blur laid over it
        assert np.abs(com.astype(np.float32) - clean).mean() < 12.0
    # the person moves over the clip and varies from clip to clip
    assert any(not np.array_equal(pha[0], pha[-1]) for _, _, pha in made)
    assert len({int(pha[0].sum()) for _, _, pha in made}) == len(made)
    # a photograph with no person in it gives no clip
    empty = (np.zeros((90, 120, 3), np.uint8), np.zeros((90, 120), np.uint8))
    assert distill._cutout_clip(empty, background, rng) is None


def test_cutout_and_background_clips_in_the_mix(tmp_path, monkeypatch):
    import cv2
    import numpy as np

    photos, plates = tmp_path / "photos", tmp_path / "plates"
    photos.mkdir()
    plates.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), np.full((90, 120, 3), 200, np.uint8))
    cv2.imwrite(str(plates / "room.jpg"), np.full((120, 90, 3), 60, np.uint8))  # portrait plate

    class Item:
        path = plates / "room.jpg"

    class Real:
        @staticmethod
        def load_items(kind, split=None):
            assert split == "train"  # held-out pictures never reach training
            return [Item()] if kind == "background" else []

    import training

    # ``from training import real`` inside build_clips finds the package attribute
    monkeypatch.setattr(training, "real", Real, raising=False)
    data = DataConfig(size=(48, 80), frames=5, procedural_clips=1, composites_per_clip=1,
                      empty_fraction=0.0, workers=1, photo_root=str(photos), cutout_clips=2,
                      background_clips=1, real_backgrounds=True)  # fmt: skip
    with pytest.raises(ValueError, match="needs the teacher"):
        distill.build_clips(data)
    clips = distill.build_clips(data, lambda photo: _person())
    assert clips.truth.tolist() == [True, True, True, False]
    assert clips.pha[1:3].amax() == 255  # cut-outs: true alpha
    assert clips.com[3].float().sub(60).abs().max() <= 1  # the real plate, panned


def test_command_line_mistakes_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as code:
        distill.main(["--config", str(tmp_path / "missing.toml")])
    assert code.value.code == 2 and "missing.toml: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as code:
        distill.main(["--set", "bogus=1"])
    assert code.value.code == 2 and "unexpected keyword argument 'bogus'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as code:
            distill.main(["--device", "cuda"])
        assert "this torch sees no CUDA device" in capsys.readouterr().err


def test_a_stage_can_add_clips_to_an_earlier_stages_cached_mix(tmp_path):
    first = _config(tmp_path / "a")
    distill.run(first, torch.device("cpu"), False, None, CountingTeacher())
    earlier = tmp_path / "a" / "run" / "cache.pt"
    own = distill.build_clips(first.data)
    own.teacher_fgr, own.teacher_pha = own.fgr.clone(), own.pha.clone()
    own.truth = None  # a cache made before clips had a truth flag: every clip has
    mixed = distill.include_caches(own, [earlier])
    cached = torch.load(earlier, weights_only=True)
    assert len(mixed) == len(own) + cached["com"].shape[0]
    assert torch.equal(mixed.com[len(own) :], cached["com"])
    assert torch.equal(mixed.truth[: len(own)], torch.ones(len(own), dtype=torch.bool))

    other = distill.build_clips(dataclasses.replace(first.data, frames=4))
    other.teacher_fgr, other.teacher_pha = other.fgr, other.pha
    with pytest.raises(ValueError, match=r"cache.pt holds clips of \(5, 3, 48, 80\)"):
        distill.include_caches(other, [earlier])
    with pytest.raises(ValueError, match=r"missing\.pt: no such file"):
        distill.include_caches(own, [tmp_path / "missing.pt"])


def test_the_touched_foreground_term_counts_faint_pixels(tmp_path):
    config = _config(tmp_path, touched_foreground_weight=1.0)
    clips = distill.build_clips(config.data)
    distill.teacher_targets(CountingTeacher(), clips, config.teacher, "cpu")
    variant = distill._build_variant(config.variants[1], config, CountingTeacher(), "cpu")
    plain = dataclasses.replace(config, touched_foreground_weight=0.0)
    twin = distill._build_variant(config.variants[1], plain, CountingTeacher(), "cpu")
    with_term = distill.train_step(variant, clips, 0, 4, config, "cpu", nullcontext)
    without = distill.train_step(twin, clips, 0, 4, plain, "cpu", nullcontext)
    assert with_term > without  # same batch (same generator seed), one more positive term

    toml = tmp_path / "stage.toml"
    toml.write_text('include_caches = ["a/cache.pt"]\ntouched_foreground_weight = 2.0\n')
    parsed = DistillConfig.from_toml(toml)
    assert parsed.include_caches == ("a/cache.pt",) and parsed.touched_foreground_weight == 2.0


def test_a_missing_included_cache_is_named_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as code:
        distill.main(["--set", 'include_caches=["gone/cache.pt"]', "--out", str(tmp_path / "r")])
    assert code.value.code == 2
    assert "include_caches: gone/cache.pt: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing composited, no run folder made

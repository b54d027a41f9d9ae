"""The quality report's held-out real check and its targets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training import report


def _pictures():
    rng = np.random.default_rng(0)
    photo = report.RealPicture("photo-a", [rng.random((32, 48, 3), dtype=np.float32)])
    video = report.RealPicture("video-b", [rng.random((32, 48, 3), dtype=np.float32)] * 5)
    return [photo, video]


def test_real_check_scores_every_method_against_the_warm_teacher(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "real_heldout", _pictures)
    seen = []

    def teacher(frames):
        seen.append(len(frames))
        # warm-up frames first: 0.25 x their index, so the scored ones are known
        return [np.full(f.shape[:2], 0.25 * min(i, 3), np.float32) for i, f in
                enumerate(frames)], list(frames)  # fmt: skip

    def half(frames):
        return [np.full(f.shape[:2], 0.5, np.float32) for f in frames], list(frames)

    def flicker(frames):
        return [np.full(f.shape[:2], float(i % 2), np.float32) for i, f in
                enumerate(frames)], list(frames)  # fmt: skip

    results = report.real_check({"half": half, "flicker": flicker}, teacher, tmp_path / "s.png")
    # photograph: 3 extra passes warm the recurrent teacher; video: frames 3, 2, 1 first
    assert seen == [4, 8]
    assert results["photo-a"]["half"]["mad"] == pytest.approx(250.0)  # |0.5 - 0.75| x 1e3
    assert results["photo-a"]["half"]["gross"] == 0.0
    assert results["photo-a"]["flicker"]["gross"] == 100.0  # 0 against 0.75
    assert results["video-b"]["half"]["dtssd"] == 0.0  # as steady as the teacher
    assert results["video-b"]["flicker"]["dtssd"] > 50.0
    summary = report.real_summary(results)
    assert summary["half"]["photo_mad"] == pytest.approx(250.0)
    assert summary["flicker"]["video_gross"] == pytest.approx(60.0)  # 3 of 5 frames are 0
    sheet = cv2.imread(str(tmp_path / "s.png"))
    assert sheet.shape[0] == 2 * 180  # one row per held-out picture


def test_real_held_out_pictures_are_shrunk_to_the_report_size():
    image = np.zeros((1000, 1500, 3), np.uint8)
    out = report._shrink_unit(image)
    assert out.shape == (342, 512, 3) and out.dtype == np.float32


def _m(mad, dtssd, fgr=3.0, inside=0.1):
    return {"mad": mad, "dtssd": dtssd, "fgr_mse": fgr, "fgr_mse_inside": inside, "clips": 1}


def test_targets_compare_with_the_peers_and_the_previous_default():
    rows = [
        ("rendered 512x288", "(a) memmatte default", _m(10.0, 2.0, fgr=4.0, inside=0.7)),
        ("rendered 512x288", "(b) memory ablated (T=1)", _m(9.0, 2.1)),
        ("rendered 512x288", "(c) MediaPipe selfie segmentation", _m(20.0, 4.0)),
        ("rendered 512x288", report.TEACHER, _m(9.0, 2.5, fgr=4.4)),
    ]
    keys = ("photo_mad", "photo_gross", "video_mad", "video_gross", "video_dtssd")
    real = {
        "(a) memmatte default": dict(zip(keys, (20.0, 4.0, 10.0, 1.0, 3.0), strict=True)),
        "(b) memory ablated (T=1)": dict(zip(keys, (20.0, 4.0, 10.0, 1.0, 3.2), strict=True)),
    }
    text = "\n".join(report._checks(rows, real))
    assert "MAD no worse than the previous default's: 10.00 vs 11.30 — met" in text
    assert "better than MediaPipe on MAD: 10.00 vs 20.00 — met" in text
    assert "dtSSD no worse than the teacher's: 2.00 vs 2.50 — met" in text
    assert "foreground MSE no worse than the teacher's: 4.00 vs 4.40 — met" in text
    assert "inside the person (true alpha > 0.99) below 0.5: 0.700 — missed" in text
    assert "at least 10 % versus the ablation: 2.00 vs 2.10 — missed" in text
    assert "mean alpha MAD against the teacher 25 or less: 20.00 — met" in text
    assert "gross-error share 3 % or less: 4.00 % — missed" in text
    assert "dtSSD against the teacher's 4 or less: 3.00 — met" in text

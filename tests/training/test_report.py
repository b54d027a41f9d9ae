"""The quality report's real-photograph check and its targets."""

from __future__ import annotations

import cv2
import numpy as np

from training import report


def test_real_photos_are_people_from_installed_packages():
    photos = report.real_photos()
    assert len(photos) == 3
    for name, photo in photos.items():
        assert photo.ndim == 3 and photo.shape[2] == 3, name
        assert photo.shape[0] % 16 == 0 and photo.shape[1] % 16 == 0, name
        assert photo.dtype == np.float32 and photo.min() >= 0.0 and photo.max() <= 1.0


def test_real_photo_check_scores_student_against_warm_teacher(tmp_path):
    def student(frames):
        return [np.full(f.shape[:2], 0.5, np.float32) for f in frames], list(frames)

    seen = []

    def teacher(frames):
        seen.append(len(frames))
        return [np.full(f.shape[:2], 0.25 * i, np.float32) for i, f in enumerate(frames)], frames

    scores = report.real_photo_check(student, teacher, tmp_path / "sheet.png")
    assert seen == [4, 4, 4]  # the recurrent teacher is warmed on the still photo
    assert all(abs(v - 250.0) < 1e-3 for v in scores.values())  # |0.5 - 0.75| x 1e3
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape[0] == 3 * 200


def test_targets_compare_with_the_peers_on_both_sets():
    def m(mad, dtssd):
        return {"mad": mad, "dtssd": dtssd, "clips": 1}

    rows = [
        ("rendered 512x288", "(a) memmatte default", m(10.0, 2.0)),
        ("rendered 512x288", "(b) memory ablated (T=1)", m(9.0, 2.1)),
        ("rendered 512x288", "(c) MediaPipe selfie segmentation", m(20.0, 4.0)),
        ("rendered 512x288", report.TEACHER, m(9.0, 2.5)),
    ]
    checks = report._checks(rows, {"astronaut": 20.0})
    text = "\n".join(checks)
    assert "better than MediaPipe on MAD: 10.00 vs 20.00 — met" in text
    assert "within 15 % of the teacher's or better: 10.00 vs 9.00 — met" in text
    assert "dtSSD no worse than the teacher's: 2.00 vs 2.50 — met" in text
    assert "at least 10 % versus the ablation: 2.00 vs 2.10 — missed" in text
    assert "astronaut: MAD against the teacher below 15: 20.00 — missed" in text

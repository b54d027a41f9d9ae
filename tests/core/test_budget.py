"""The paper's compute budget: 9.69 GMACs ± 5% per streaming step at 512x512, ratio 1."""

import json

from core.model.budget import main, measure

PAPER_GMACS = 9.69


def test_streaming_step_matches_the_paper_budget():
    budget = measure(512, 512, 1.0)
    assert abs(budget.gmacs - PAPER_GMACS) <= 0.05 * PAPER_GMACS
    assert budget.by_module["backbone"] > 1.0  # the dilated stage runs at 1/16
    assert budget.by_module.get("refiner", 0.0) == 0.0  # no DGF at ratio 1


def test_json_report(capsys):
    assert main(["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"512x512", "512x288", "1920x1080"}
    assert abs(report["512x512"]["gmacs"] - PAPER_GMACS) <= 0.05 * PAPER_GMACS
    assert 6e6 < report["512x512"]["params"] < 9e6
    assert report["1920x1080"]["by_module_gmacs"]["refiner"] > 0

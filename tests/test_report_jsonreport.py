"""grader/report/jsonreport.py: report.json is strict JSON, complete even when the run produced NaN, and says
how the run went."""

from __future__ import annotations

import dataclasses
import math

from builders import LINEAR, perfect, report_for, strict_loads

from grader import __version__
from grader.report import write_reports
from grader.report.jsonreport import render
from grader.trace import EXCEPTION, Outcome


def test_json_is_strict_and_complete_even_with_nan(tmp_path) -> None:
    trace = perfect(LINEAR)
    steps = list(trace.steps)
    steps[0] = dataclasses.replace(steps[0], loss=math.inf, grads={"w": math.nan})
    trace = dataclasses.replace(trace, steps=tuple(steps), prediction=math.nan, final_params={"w": -math.inf})
    paths = write_reports(report_for(LINEAR, trace), tmp_path / "student")
    data = strict_loads(paths["json"].read_text(encoding="utf-8"))
    for key in ("assignment", "submission", "score", "max_score", "error", "checks"):
        assert key in data
    assert data["assignment"] == "backprop_linear" and data["submission"] == "student.py"
    assert data["first_epoch"][0]["observed"] == {"w": "nan"}
    assert data["final"]["prediction"] == "nan"
    for check in data["checks"]:
        assert set(check) >= {"id", "status", "points", "max_points", "message", "expected", "observed"}
        assert check["status"] in ("pass", "fail", "error")
    first = next(c for c in data["checks"] if c["id"] == "first_epoch_grads")
    assert first["expected"][1]["grads"] == {"w": -7.840000152587891}


def test_json_says_how_the_run_went() -> None:
    trace = dataclasses.replace(
        perfect(LINEAR), extra_steps=5, isolation=("limits", "audit", "landlock"), notes=("a note",), stdout="out", stderr="err",
        seconds=1.23456, outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError", line=3, file="hw.py"))
    data = strict_loads(render(report_for(LINEAR, trace, "hw.py")))
    assert data["kit"] == {"name": "backprop-grader", "version": __version__}
    assert data["title"] == LINEAR.title and data["max_score"] == 10
    assert data["score"] == 7  # training saw 305 passes, and the program raised
    assert data["error"] == "Your program stopped with ValueError (line 3 of hw.py): boom."
    assert data["outcome"]["status"] == "exception" and data["outcome"]["exc_type"] == "ValueError"
    assert data["run"] == {"seconds": 1.235, "backward_passes": 305, "isolation": ["limits", "audit", "landlock"]}
    assert data["notes"] == ["a note"] and (data["stdout"], data["stderr"]) == ("out", "err")
    assert data["final"]["expected_prediction"] == 7.999998569488525
    assert [c["id"] for c in data["checks"]] == [c.id for c in LINEAR.checks]


def test_json_lists_the_diagnoses_with_their_evidence() -> None:
    trace = perfect(LINEAR)
    steps = list(trace.steps)
    steps[40] = dataclasses.replace(steps[40], grads={"w": steps[40].grads["w"] + 0.5})
    data = strict_loads(render(report_for(LINEAR, dataclasses.replace(trace, steps=tuple(steps)))))
    (diagnosis,) = data["diagnoses"]
    assert diagnosis["id"] == "unexplained" and set(diagnosis) == {"id", "title", "message", "evidence", "file", "line"}
    assert diagnosis["title"] == "no usual mistake matches"
    assert diagnosis["evidence"] == {"checks": ["training"]}

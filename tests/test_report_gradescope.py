"""grader/report/gradescope.py: results.json in Gradescope's autograder format, one test per check."""

from __future__ import annotations

import dataclasses
import json

from builders import LINEAR, perfect, report_for, with_grad

from grader.report import markdown
from grader.report.gradescope import render


def test_gradescope_results(graded_class) -> None:
    _, out, _, _ = graded_class
    data = json.loads((out / "bob" / "results.json").read_text(encoding="utf-8"))
    assert data["score"] == 5 and data["visibility"] == "visible" and data["output_format"] == "md"
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")


def test_a_hand_made_report_for_gradescope() -> None:
    trace = dataclasses.replace(with_grad(perfect(LINEAR), 1, "w", -9.84), seconds=2.34567)
    report = report_for(LINEAR, trace)
    data = json.loads(render(report))
    assert data["score"] == report.score == 6 and data["execution_time"] == 2.346
    assert data["output"] == markdown.render(report) and data["stdout_visibility"] == "hidden"
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == [
        (c.id, c.points, c.max_points, "passed" if c.status == "pass" else "failed") for c in report.checks]
    assert next(t for t in data["tests"] if t["name"] == "first_epoch_grads")["output"].startswith("step 2")
    assert data["extra_data"] == {"assignment": "backprop_linear", "diagnoses": [d.id for d in report.diagnoses]}
    assert data["extra_data"]["diagnoses"]

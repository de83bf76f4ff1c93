"""grader/report/jsonreport.py: report.json is strict JSON, complete even when the run produced NaN."""

from __future__ import annotations

import dataclasses
import math

from builders import LINEAR, perfect, report_for, strict_loads

from grader.report import write_reports


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

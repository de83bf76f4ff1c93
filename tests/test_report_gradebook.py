"""grader/report/gradebook.py: grades.csv and the class summaries (summary.md, summary.html) of a graded
class."""

from __future__ import annotations

import csv


def test_gradebook_columns_and_class_summaries(graded_class) -> None:
    _, out, _, _ = graded_class
    header = next(csv.reader(open(out / "grades.csv", encoding="utf-8")))
    assert header[0] == "student"
    assert header[1:4] == ["backprop_linear:score", "backprop_linear:max_score", "backprop_linear:status"]
    assert "backprop_linear:first_epoch_grads" in header and "backprop_quadratic:forward" in header
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## `backprop_linear`" in summary and "Pass rate per check" in summary
    assert "- `grad_not_reset`: 1" in summary
    assert "dan (timeout)" in summary and "carol (error)" in summary
    html = (out / "summary.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html

"""grader/report/gradescope.py: results.json in Gradescope's autograder format, one test per check."""

from __future__ import annotations

import json


def test_gradescope_results(graded_class) -> None:
    _, out, _, _ = graded_class
    data = json.loads((out / "bob" / "results.json").read_text(encoding="utf-8"))
    assert data["score"] == 5 and data["visibility"] == "visible" and data["output_format"] == "md"
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")

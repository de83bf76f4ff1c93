"""grader/report/classroom.py: the result GitHub Classroom's grading reporter reads, one test per check
scored with its points, and the base64 value of a whole --out folder that the student workflow hands it."""

from __future__ import annotations

import base64
import io
import json
from contextlib import redirect_stdout

from builders import LINEAR, perfect, report_for, with_grad

from grader.report import classroom, write_reports


def reporter_total(result: dict) -> tuple[float, float]:
    """What autograding-grading-reporter sends Classroom: the tests' scores over max_score."""
    return sum(test["score"] for test in result["tests"]), result["max_score"]


def test_a_partial_grade_reaches_classroom_as_points_out_of_ten() -> None:
    report = report_for(LINEAR, with_grad(perfect(LINEAR), 1, "w", -9.84), "alice.py")
    result = classroom.to_dict(report)
    assert reporter_total(result) == (report.score, 10) and report.score < 10
    assert result["status"] == "fail" and result["version"] == 1
    assert {t["status"] for t in result["tests"]} <= {"pass", "fail", "error"}
    failed = [t for t in result["tests"] if t["status"] != "pass"]
    assert failed and all(t["message"] for t in failed)


def test_a_folder_of_reports_is_one_base64_result(tmp_path) -> None:
    full = report_for(LINEAR, perfect(LINEAR), "alice.py")
    partial = report_for(LINEAR, with_grad(perfect(LINEAR), 1, "w", -9.84), "bob.py")
    write_reports(full, tmp_path / "alice", ("classroom",))
    write_reports(partial, tmp_path / "bob", ("classroom",))
    with redirect_stdout(io.StringIO()) as printed:
        assert classroom.main([str(tmp_path)]) == 0
    result = json.loads(base64.b64decode(printed.getvalue().strip()))
    assert reporter_total(result) == (full.score + partial.score, 20)
    assert result["status"] == "fail" and len(result["tests"]) == 2 * len(full.checks)


def test_nothing_graded_is_a_failed_result_worth_nothing(tmp_path) -> None:
    result = classroom.joined(tmp_path)
    assert reporter_total(result) == (0, 0) and result["status"] == "fail"
    assert "No .py or .ipynb file" in result["tests"][0]["message"]

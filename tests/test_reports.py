"""report.json and report.md from hand-made reports: strict JSON, escaped student text, atomic writes."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest
from builders import LINEAR, QUADRATIC, perfect, report_for, strict_loads

from grader.report import atomic_write, write_reports
from grader.report.text import fenced, inline
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


def test_markdown_shows_score_checks_and_the_gradient_table() -> None:
    text = write_md(QUADRATIC, perfect(QUADRATIC))
    assert "**Score: 10 / 10**" in text
    assert "| `first_epoch_grads` | ✅ pass | 2 / 2 |" in text
    assert "| w1.grad (yours) | w1.grad (expected) |" in text
    assert "| 2 | 2 | 4 | 22.88 | 22.88 | 11.44 | 11.44 | 5.72 | 5.72 |" in text


def write_md(spec, trace) -> str:
    from grader.report.markdown import render

    return render(report_for(spec, trace))


def test_student_text_cannot_break_the_markdown() -> None:
    evil = "<script>alert(1)</script> | ``` \n# heading"
    trace = dataclasses.replace(
        perfect(LINEAR),
        outcome=Outcome(EXCEPTION, evil, exc_type="ValueError", line=3, traceback="x\n```\n" + evil),
        stdout="```\n" + evil,
    )
    text = write_md(LINEAR, trace)
    assert "<script>" not in text.split("## Where")[0]  # escaped in the table and the error line
    assert "&lt;script&gt;" in text
    assert "````text" in text  # the fence outgrows the backticks inside


def test_inline_and_fenced_helpers() -> None:
    assert inline("a|b\nc<d") == "a\\|b<br>c&lt;d"
    assert fenced("``` x ````").startswith("`````text\n")


def test_atomic_write_replaces_whole_files(tmp_path) -> None:
    target = tmp_path / "deep" / "report.json"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


@pytest.mark.skipif(os.name != "posix", reason="folders are flushed on POSIX only")
def test_atomic_write_reaches_the_disk_before_the_rename(tmp_path, monkeypatch) -> None:
    """What survives a power cut: the content is flushed before the rename makes it visible, and the
    folder is flushed after, so the rename itself is on disk."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "report.json"
    atomic_write(target, "one")
    kinds = [kind for kind, _ in calls]
    assert kinds == ["fsync", "replace", "fsync"], calls
    if os.path.exists("/proc/self/fd"):
        assert calls[0][1].endswith(".tmp") and calls[2][1] == os.path.realpath(tmp_path)

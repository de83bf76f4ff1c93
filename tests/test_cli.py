"""The grader command: arguments, console lines, report files and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import ROOT

from grader.cli import main


def test_full_marks_exit_0_and_reports(tmp_path, capsys) -> None:
    out = tmp_path / "reports"
    code = main(["check", str(ROOT / "solutions" / "backprop_quadratic.py"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"backprop_quadratic.py: 10/10 (backprop_quadratic) -> {out / 'backprop_quadratic' / 'report.md'}" in printed
    data = json.loads((out / "backprop_quadratic" / "report.json").read_text(encoding="utf-8"))
    assert data["score"] == data["max_score"] == 10 and data["error"] is None
    assert (out / "backprop_quadratic" / "report.md").read_text(encoding="utf-8").startswith("# Backpropagation")


def test_lost_points_exit_1_and_every_submission_is_reported(tmp_path, capsys) -> None:
    skeleton = ROOT / "assignments" / "backprop_linear.py"
    solution = ROOT / "solutions" / "backprop_linear.py"
    out = tmp_path / "r"
    code = main(["check", str(skeleton), str(solution), "--out", str(out), "--timeout", "5"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(lines) == 2 and ": 0/10 (backprop_linear)" in lines[0] and ": 10/10 (backprop_linear)" in lines[1]
    assert "TODO 1" in lines[0]  # the run's error, in plain words
    assert sorted(p.name for p in out.iterdir()) == [
        "backprop_linear", "backprop_linear-2", "grades.csv", "summary.html", "summary.md"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["check", "no/such/file.py"], "no such file"),
        (["check", "{solution}", "--assignment", "nope"], "backprop_linear, backprop_quadratic"),
        (["check", "{plain}"], "--assignment"),
        (["check", "{solution}", "--timeout", "-1"], "must be more than 0"),
        (["check"], "PATH"),
        ([], "command"),
    ],
)
def test_usage_errors_exit_2(argv, fragment, tmp_path, capsys) -> None:
    plain = tmp_path / "plain.py"
    plain.write_text("print('hello')\n")
    solution = ROOT / "solutions" / "backprop_linear.py"
    argv = [a.format(solution=solution, plain=plain) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("grader: error:") and fragment in err
    assert "Traceback" not in err


def test_list(capsys) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("backprop_linear\t")


def test_console_script_is_installed() -> None:
    exe = shutil.which("grader", path=str(Path(sys.executable).parent)) or shutil.which("grader")
    assert exe, "the grader command is not on PATH: install the kit with pip install -e ."
    done = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("backprop-grader ")

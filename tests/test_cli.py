"""grader/cli.py: the grader command's arguments, console lines, report files, --format and --lang, and
exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import CASES, ROOT

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


def test_format_and_lang_options(tmp_path, capsys) -> None:
    case = next(c for c in CASES if c.name == "linear_grad_not_reset.py")
    path = tmp_path / case.name
    path.write_text(case.source(), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["check", str(path), "--out", str(out), "--format", "html", "--lang", "zh"]) == 1
    assert sorted(p.name for p in (out / "linear_grad_not_reset").iterdir()) == ["entry.json", "report.html"]
    assert "梯度从未清零" in (out / "linear_grad_not_reset" / "report.html").read_text(encoding="utf-8")
    assert main(["check", str(path), "--format", "md,pdf"]) == 2
    assert "unknown format pdf" in capsys.readouterr().err
    assert main(["check", str(ROOT / "nope.py"), "--lang", "zh"]) == 2
    assert "没有这个文件或文件夹" in capsys.readouterr().err

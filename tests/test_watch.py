"""grader/watch.py and `grader check --watch`: a file is graded again after each save, by one warm process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cases import ROOT

from grader.cli import main
from grader.watch import watch

SOLUTION = ROOT / "solutions" / "backprop_linear.py"


def test_each_save_is_graded_once_and_a_save_in_parts_once_it_settles(tmp_path) -> None:
    path = tmp_path / "hw.py"
    path.write_text("a = 1\n")
    graded, ticks = [], []
    plan = {2: "a = 2\n", 5: "a = 3", 6: "a = 3\nb = 4\n"}  # tick 5 and 6: one save written in two parts

    def sleep(_seconds: float) -> None:
        ticks.append(1)
        text = plan.get(len(ticks))
        if text is not None:
            path.write_text(text)
            os.utime(path, ns=(len(ticks) * 10**9, len(ticks) * 10**9))

    count = watch(path, lambda: graded.append(path.read_text()), keep_going=lambda: len(ticks) < 12, sleep=sleep)
    assert graded == ["a = 1\n", "a = 2\n", "a = 3\nb = 4\n"] and count == 3


def test_a_missing_file_is_waited_for_and_ctrl_c_ends_the_watch(tmp_path) -> None:
    path = tmp_path / "hw.py"
    path.write_text("x")
    calls = []

    def sleep(_seconds: float) -> None:
        calls.append(1)
        if len(calls) == 2:
            path.unlink()  # an editor that saves by replacing the file
        if len(calls) == 4:
            raise KeyboardInterrupt

    assert watch(path, lambda: None, sleep=sleep) == 1


def test_watch_takes_one_file(tmp_path, capsys) -> None:
    other = ROOT / "solutions" / "backprop_quadratic.py"
    assert main(["check", str(SOLUTION), str(other), "--watch", "--out", str(tmp_path)]) == 2
    assert "--watch grades one file" in capsys.readouterr().err


def test_the_command_regrades_on_save_from_a_warm_process(tmp_path) -> None:
    path = tmp_path / "backprop_linear.py"
    text = SOLUTION.read_text(encoding="utf-8")
    path.write_text(text.replace("w.data = w.data - 0.01", "w.data = w.data - 0.02"), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "grader", "check", str(path), "--watch", "--out",
                                str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=tmp_path)

    def until_graded() -> list[str]:
        lines = []
        while not (lines and lines[-1].startswith("graded in")):
            line = process.stdout.readline()
            assert line, lines
            lines.append(line)
        return lines

    try:
        first = until_graded()
        assert any(": 6/10 (backprop_linear)" in l and "[learning_rate: another learning rate" in l for l in first), first
        path.write_text(text, encoding="utf-8")  # the student fixes it and saves
        second = until_graded()
        assert any(": 10/10 (backprop_linear)" in line for line in second), second
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0

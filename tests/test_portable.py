"""The portable runner (grader/portable.py) and the kit where POSIX-only parts are missing (Windows, in
part macOS): forced here on Linux, in processes where those parts are hidden (tests/portable/), every
end-to-end case where the runner's part differs gets the verdicts the fast runner gives; the command grades a file in a folder named in
Chinese, with spaces, on a console in GBK."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cases import CASES, ROOT, lecture_available, needs_lecture

from grader.child import execute
from grader.child.sandbox import _windows_resolver
from grader.forkserver import ForkServerRunner
from grader.portable import PortableRunner, hand_over
from grader.run import make_runner

HERE = Path(__file__).resolve().parent / "portable"


def child_python(folder: Path) -> Path:
    """tests/portable/python_without_posix.py made an executable that starts as ``python -I -B``."""
    for name in ("posix_hidden.py", "python_without_posix.py"):
        shutil.copy(HERE / name, folder / name)
    script = folder / "python_without_posix.py"
    script.write_text(f"#!{sys.executable} -IB\n" + script.read_text(encoding="utf-8"), encoding="utf-8")
    script.chmod(0o755)
    return script


# What the runner does differs with how a program ends and how it is read, not with which mistake a finished
# run shows (its diagnoses are pure functions of the same events, and the fork server grades every case):
# so the portable runner grades each case that ends otherwise than by finishing with every check passed or
# failed (an error, a timeout, an exit, a syntax error, a stopped first epoch), each notebook, forced
# assignment or built file, and a finished program of each kind and way of calling the student's functions.
FINISHED_STYLES = ("backprop_linear.py", "backprop_quadratic.py", "lecture_linear.py", "lecture_homework.py",
                   "linear_tk_backend.py", "linear_sys_exit_zero.py", "linear_unused_imports.py",
                   "quadratic_style_class.py", "quadratic_style_module.py", "quadratic_style_loss_globals.py",
                   "quadratic_style_bias_argument.py", "linear_no_functions.py", "linear_batch.py",
                   "quadratic_missing_bias.py")


def runner_relevant(case) -> bool:
    return bool(case.timeout or case.expect.get("runs") != "pass" or "error" in case.expect.values()
                or case.name.endswith(".ipynb") or case.build or case.assignment or case.name in FINISHED_STYLES)


PORTABLE_CASES = [c for c in CASES if runner_relevant(c) and (not needs_lecture(c) or lecture_available())]


@pytest.fixture(scope="module")
def portable(tmp_path_factory) -> dict:
    """The cases above graded by the runner the kit picks with the POSIX-only parts hidden, parent and
    children."""
    folder = tmp_path_factory.mktemp("portable")
    (folder / "cases").mkdir()
    done = subprocess.run([sys.executable, str(HERE / "grade_cases.py"), str(folder / "cases"),
                           str(child_python(folder)), *(c.name for c in PORTABLE_CASES)],
                          capture_output=True, text=True, timeout=1200, cwd=ROOT)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return {"first": lines[0], "cases": {line["name"]: line for line in lines[1:]}}


def test_without_fork_the_kit_picks_the_portable_runner(portable) -> None:
    assert portable["first"] == {"runner": "PortableRunner", "still_there": []}


def test_the_portable_runner_gives_every_case_the_fast_runners_verdict(portable, grading) -> None:
    """Same checks, score, diagnoses and error for each case as the fork server gave (tests/conftest.py)."""
    differ = {}
    expected = PORTABLE_CASES
    assert set(portable["cases"]) == {c.name for c in expected} and len(expected) > 40
    assert all(name in {c.name for c in CASES} for name in FINISHED_STYLES)  # none renamed away
    for case in expected:
        fast = grading.report(case)
        want = {"checks": {c.id: c.status for c in fast.checks}, "score": fast.score,
                "diagnoses": sorted(d.id for d in fast.diagnoses), "error": fast.error is not None}
        got = {key: portable["cases"][case.name][key] for key in want}
        if got != want:  # only what differs, portable first, with the portable run's error: readable in a CI log
            differ[case.name] = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
            differ[case.name]["portable error"] = str(portable["cases"][case.name].get("error_text", ""))[:300]
    assert not differ, "\n".join(f"{name}: {what}" for name, what in differ.items())


def test_the_portable_children_had_the_walls_here(portable) -> None:
    """On Linux the walls are the child's doing, so a portable child has them too."""
    isolation = portable["cases"]["backprop_linear.py"]["isolation"]
    assert "audit" in isolation and ("landlock" in isolation or "filesystem" in isolation)


def test_the_command_grades_without_posix_parts_on_a_gbk_console(tmp_path) -> None:
    """`grader check` in a process with the POSIX-only parts hidden, on a GBK console (code page 936): a
    CRLF file in a folder named in Chinese with a space, as on a student's Windows laptop."""
    folder = tmp_path / "张三 的作业"
    folder.mkdir()
    text = (ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8")
    (folder / "反向传播_backprop_linear.py").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    code = ("import sys; sys.path.insert(0, {here!r}); import posix_hidden; posix_hidden.hide(); "
            "from grader.cli import main; sys.exit(main(sys.argv[1:]))").format(here=str(HERE))
    env = dict(os.environ, PYTHONIOENCODING="gbk")
    done = subprocess.run([sys.executable, "-c", code, "check", str(folder / "反向传播_backprop_linear.py"),
                           "--out", str(folder / "报告"), "--lang", "zh"], capture_output=True, env=env,
                          timeout=300, cwd=tmp_path)
    out, err = done.stdout.decode("gbk"), done.stderr.decode("gbk")
    assert done.returncode == 0, err
    assert "反向传播_backprop_linear.py: 10/10" in out
    assert (folder / "报告" / "反向传播_backprop_linear" / "report.md").is_file()


def test_the_runner_for_this_system(monkeypatch) -> None:
    monkeypatch.delenv("GRADER_RUNNER", raising=False)
    assert isinstance(make_runner(warm=False), PortableRunner)  # one file: a fresh Python
    if sys.platform.startswith("linux"):
        assert isinstance(make_runner(warm=True), ForkServerRunner)
    monkeypatch.setenv("GRADER_RUNNER", "portable")
    assert isinstance(make_runner(warm=True), PortableRunner)
    monkeypatch.delenv("GRADER_RUNNER")
    monkeypatch.delattr(os, "fork")
    assert isinstance(make_runner(warm=True), PortableRunner)


def test_pipes_are_handed_over_by_number_on_posix() -> None:
    options, names = hand_over((7, 9))
    assert options == {"pass_fds": (7, 9)} and names == ["7", "9"]


def test_the_watchdog_interrupts_the_main_thread_where_there_is_no_sigalrm() -> None:
    """The time limit without SIGALRM (Windows): a thread raises KeyboardInterrupt in the main thread."""
    watchdog = execute.Watchdog()
    watchdog.install()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        watchdog.arm(0.2)
        while time.monotonic() - began < 10:
            pass
    assert 0.15 < time.monotonic() - began < 5
    watchdog.arm(0.2)
    watchdog.arm(0)  # disarmed: nothing comes
    time.sleep(0.5)


def test_paths_on_windows_are_resolved_whole_and_in_one_case() -> None:
    """The audit hook's resolver on Windows, with the system's answers faked: the existing head resolved
    (a junction followed), the rest appended, all lower case, and the long-path prefix dropped."""
    real = {"C:\\Users\\Zhang": "\\\\?\\D:\\Home\\Zhang", "C:\\Users": "\\\\?\\C:\\Users", "C:\\": "\\\\?\\C:\\"}

    def final_path(path: str) -> str:
        if path not in real:
            raise FileNotFoundError(path)
        return real[path]

    resolve = _windows_resolver(getcwd=lambda: "C:\\Users\\Zhang", final_path=final_path)
    assert resolve("C:\\Users\\Zhang\\作业\\new.txt") == "d:\\home\\zhang\\作业\\new.txt"
    assert resolve("作业\\..\\a.py") == "d:\\home\\zhang\\a.py"  # relative to the working folder
    assert resolve("C:/Users/Other/x") == "c:\\users\\other\\x"

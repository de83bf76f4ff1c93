"""grader/cli.py: the grader command's arguments, console lines, report files, --format and --lang, and
exit codes."""

from __future__ import annotations

import io
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builders import read_csv
from cases import CASES, ROOT

from grader.batch import Entry
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
    # Two files of one name: each gets a folder of its own, named after its path (the same on every run).
    names = sorted(p.name for p in out.iterdir())
    assert names[2:] == ["grades.csv", "summary.html", "summary.md"]
    assert all(re.fullmatch(r"backprop_linear~[0-9a-f]{10}", name) for name in names[:2]) and names[0] != names[1]


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


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--shard", "3/2"], "expected K/N with 1 <= K <= N"),
        (["--shard", "x"], "expected K/N"),
        (["--jobs", "0"], "must be a whole number, at least 1"),
        (["--timeout", "soon"], "'soon' is not a number"),
        (["--format", ","], "unknown format (none)"),
        (["--lang", "fr"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_before_anything_is_graded(options, fragment, tmp_path, capsys) -> None:
    assert main(["check", str(ROOT / "solutions" / "backprop_linear.py"), "--out", str(tmp_path / "out"), *options]) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_lang_is_read_before_the_arguments(capsys) -> None:
    assert main(["check", "--lang=zh", "--jobs", "0", "x.py"]) == 2
    assert capsys.readouterr().err.startswith("grader：错误：argument --jobs: 必须是不小于 1 的整数")


def write_entry(folder: Path, student: str) -> None:
    entry = Entry(student=student, assignment="backprop_linear", submission=f"{student}.py", folder=student, score=10.0,
                  max_score=10.0, status="graded", error=None, points={"runs": 1.0}, statuses={"runs": "pass"},
                  diagnoses=(), seconds=1.0, fingerprint="f")
    (folder / student).mkdir(parents=True)
    (folder / student / "entry.json").write_text(json.dumps(dataclasses.asdict(entry)))


def test_merge_joins_shards_and_refuses_what_cannot_be_joined(tmp_path, capsys) -> None:
    write_entry(tmp_path / "one", "amy")
    write_entry(tmp_path / "two", "ben")
    out = tmp_path / "merged"
    assert main(["merge", str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(out)]) == 0
    assert "2 graded, 2 with full marks" in capsys.readouterr().out
    assert [line.split(",")[0] for line in (out / "grades.csv").read_text().splitlines()] == ["student", "amy", "ben"]
    assert main(["merge", str(tmp_path / "one"), str(tmp_path / "one")]) == 2
    assert "amy (backprop_linear) is graded in two of the folders" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["merge", str(tmp_path / "empty")]) == 2
    assert "no graded submission found" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_ctrl_c_writes_the_gradebook_of_what_ended_and_says_it_is_incomplete(tmp_path) -> None:
    import signal
    import time

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a_loops", "b_loops", "c_loops", "d_loops"):  # each ends at its time limit, no sooner
        (folder / f"{name}.py").write_text("import torch\nw = torch.tensor([1.0])\nwhile True:\n    pass\n")
    out = tmp_path / "out"
    # As from a terminal: Ctrl-C raises KeyboardInterrupt (a process started in the background, as this test
    # may be, inherits SIGINT ignored).
    command = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "from grader.cli import main; sys.exit(main(sys.argv[1:]))")
    process = subprocess.Popen(
        [sys.executable, "-c", command, "check", str(folder), "--assignment", "backprop_linear", "--jobs", "1",
         "--timeout", "4", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()  # the first has timed out; the next one runs now
    assert ": " in first, first + process.stderr.read()
    time.sleep(1.0)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert time.monotonic() - started < 5  # the running child was stopped, not waited for
    assert "interrupted after 1 of 4 submissions" in err
    rows = read_csv(out / "grades.csv")
    assert len(rows) == 1 and rows[0]["student"] in first
    assert "Incomplete: the batch was interrupted after 1 of 4 submissions" in (out / "summary.md").read_text()
    assert len(list(out.rglob("entry.json"))) == 1  # the others' grades would be made up: --resume grades them


def test_a_class_without_file_isolation_is_refused_unless_asked(tmp_path, monkeypatch, capsys) -> None:
    """GRADER_JAIL=off and GRADER_WALLS=off give what a system without Landlock and without namespaces
    gives: a single self-check says so; a class is refused unless the option names the risk."""
    monkeypatch.setenv("GRADER_JAIL", "off")
    monkeypatch.setenv("GRADER_WALLS", "off")
    folder = tmp_path / "class"
    folder.mkdir()
    solution = (ROOT / "solutions" / "backprop_linear.py").read_text()
    (folder / "alice.py").write_text(solution)
    (folder / "bob.py").write_text(solution)
    assert main(["check", str(folder), "--out", str(tmp_path / "out")]) == 5
    err = capsys.readouterr().err
    assert "no file isolation here" in err and "--unsafe-no-file-isolation" in err
    assert not (tmp_path / "out").exists()  # nothing was graded
    assert main(["check", str(folder), "--out", str(tmp_path / "out"), "--unsafe-no-file-isolation"]) == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    walls = next(line for line in summary.splitlines() if line.startswith("Walls around every submission: "))
    assert "audit, limits" in walls and "landlock" not in walls and "filesystem" not in walls
    assert main(["check", str(folder / "alice.py"), "--out", str(tmp_path / "one")]) == 0
    assert "graded without file isolation" in capsys.readouterr().err
    notes = json.loads((tmp_path / "one" / "alice" / "report.json").read_text())["notes"]
    assert any("no file isolation" in note for note in notes)


def test_the_console_says_the_walls(tmp_path, capsys) -> None:
    assert main(["check", str(ROOT / "solutions" / "backprop_linear.py"), "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "walls: limits, audit" in err and ("landlock" in err or not sys.platform.startswith("linux"))


def test_matplotlibs_first_run_is_never_the_students_doing(tmp_path, monkeypatch) -> None:
    """On the first run after installing, matplotlib builds its font cache: that happens before the walls go
    up, and no note blames the student for writing outside its folder."""
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "fresh-matplotlib-config"))
    assert main(["check", str(ROOT / "solutions" / "backprop_linear.py"), "--out", str(tmp_path / "out"),
                 "--format", "json"]) == 0
    report = json.loads((tmp_path / "out" / "backprop_linear" / "report.json").read_text())
    assert report["notes"] == [] and "not allowed" not in report["stderr"], (report["notes"], report["stderr"])
    assert list((tmp_path / "fresh-matplotlib-config").glob("fontlist*.json"))


def test_the_console_line_names_the_cause_first_in_the_students_language(tmp_path, capsys) -> None:
    """The first diagnosis, in a few words, with the line to look at; an error that follows from it is said
    to follow from it."""
    by_name = {c.name: c for c in CASES}
    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "linear_grad_not_reset.py").write_text(by_name["linear_grad_not_reset.py"].source(), encoding="utf-8")
    (folder / "linear_param_replaced.py").write_text(by_name["linear_param_replaced.py"].source(), encoding="utf-8")
    main(["check", str(folder), "--out", str(tmp_path / "en"), "--assignment", "backprop_linear"])
    lines = {line.split(":")[0].rsplit("/", 1)[-1]: line for line in capsys.readouterr().out.splitlines()}
    reset = lines["linear_grad_not_reset.py"]
    assert "[grad_not_reset: gradients not reset" in reset
    replaced = lines["linear_param_replaced.py"]
    assert re.search(r"\[param_replaced: a parameter replaced by a new tensor \(line \d+ of linear_param_replaced\.py\)\]",
                     replaced), replaced
    assert "This follows from the mistake under What went wrong: a parameter replaced by a new tensor" in replaced
    main(["check", str(folder), "--out", str(tmp_path / "zh"), "--assignment", "backprop_linear", "--lang", "zh"])
    printed = capsys.readouterr().out
    assert "[grad_not_reset: 梯度没有清零" in printed and "[param_replaced: 参数被新的张量替换了" in printed


def test_help_in_chinese_speaks_chinese_and_knows_notebooks(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--lang", "zh", "--help"])
    text = capsys.readouterr().out
    assert text.startswith("用法：grader check") and "位置参数：" in text and "选项：" in text
    assert "一个 .py 或 .ipynb 文件，或包含它们的文件夹" in text and "显示此帮助信息并退出" in text
    assert "usage" not in text and "show this help" not in text
    with pytest.raises(SystemExit):
        main(["check", "--lang", "en", "--help"])
    assert "a .py or .ipynb file, or a folder of them" in capsys.readouterr().out


def test_a_gbk_console_prints_the_summary_in_chinese(tmp_path) -> None:
    """A Windows console in code page 936: the line names the file and says the result, no encoding error."""
    path = tmp_path / "张三_作业.py"
    path.write_text((ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--lang", "zh", "--out",
                           str(tmp_path / "out"), "--format", "json"], capture_output=True, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONIOENCODING": "gbk"}, timeout=300)
    assert done.returncode == 0, done.stderr.decode("gbk", "replace")
    assert "张三_作业.py: 10/10 (backprop_linear)" in done.stdout.decode("gbk")
    assert "隔离措施" in done.stderr.decode("gbk")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_class_gets_a_bar_with_rate_and_time_left() -> None:
    from grader.cli import Progress

    stream = Terminal()
    progress = Progress(3, stream)
    progress.step("alice.py: 10/10")
    progress.line("skipped: notes.txt")
    progress.step("bob.py: 5/10")
    progress.step("carol.py: 10/10")
    progress.close()
    drawn = stream.getvalue()
    assert "3/3" in drawn and "files/s" in drawn and "<00:00" in drawn  # done, the rate, the time left
    assert "alice.py" not in drawn  # one bar, not a line per file


def test_elsewhere_a_class_gets_one_plain_line_per_file(capsys) -> None:
    from grader.cli import Progress

    progress = Progress(2, io.StringIO())  # a log or a pipe: no bar
    progress.step("alice.py: 10/10")
    progress.step("bob.py: 5/10")
    progress.close()
    assert capsys.readouterr().out.splitlines() == ["alice.py: 10/10", "bob.py: 5/10"]

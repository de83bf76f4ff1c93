"""grader/report/github.py: workflow commands that student text cannot forge, GitHub's escaping rules,
annotations pointing at the student's file and line, and the Markdown reports on the job's summary page."""

from __future__ import annotations

import dataclasses
import io

from builders import LINEAR, perfect, report_for

from grader.diagnose import Diagnosis
from grader.report import markdown
from grader.report.github import GitHubSink, annotations, escape_data, escape_property
from grader.trace import EXCEPTION, Outcome


def test_github_output_cannot_be_hijacked(graded_class) -> None:
    _, _, _, stdout = graded_class
    lines = stdout.splitlines()
    stop = lines[0]
    assert stop.startswith("::stop-commands::") and len(stop) > 30
    token = stop.split("::")[2]
    resume = lines.index(f"::{token}::")
    for line in lines[resume + 1:]:
        assert line.startswith("::error file=") and "::" in line[2:]
    assert not any("injected" in line for line in lines[1:resume] if line.startswith("::"))
    mallory = [line for line in lines[resume + 1:] if "mallory" in line]
    assert mallory and all("\n" not in line for line in mallory)
    assert any("boom ::error file=x::injected %250A::warning::again" in line for line in mallory)


def test_escaping_rules() -> None:
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("x:y,z\n") == "x%3Ay%2Cz%0A"


def test_annotations_point_at_the_file() -> None:
    trace = dataclasses.replace(perfect(LINEAR), steps=())
    report = report_for(LINEAR, trace, "a,b:c.py")
    lines = annotations(report, "dir/a,b:c.py")
    assert lines and all(line.startswith("::error file=dir/a%2Cb%3Ac.py,title=") for line in lines)


def test_annotations_name_the_line_where_they_can() -> None:
    trace = dataclasses.replace(perfect(LINEAR), outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError", line=7))
    report = report_for(LINEAR, trace)
    report = dataclasses.replace(report, diagnoses=(
        Diagnosis("grad_not_reset", "never\nreset", file="hw.py", line=12),
        Diagnosis("model_terms", "in a cell", file="hw.ipynb, cell 3", line=2)))
    lines = annotations(report, "hw.py")
    runs = next(c for c in report.checks if c.id == "runs")
    assert lines == [
        "::error file=hw.py,title=backprop_linear%3A runs,line=7::" + escape_data(runs.message),
        "::error file=hw.py,title=grad_not_reset,line=12::never%0Areset",
        "::error file=hw.py,title=model_terms::in a cell",  # a notebook cell's line is not the file's
    ]


def test_a_check_worth_nothing_is_not_an_annotation() -> None:
    report = report_for(LINEAR, dataclasses.replace(perfect(LINEAR), figures=()))
    assert report.checks[-1].status == "fail" and annotations(report, "hw.py") == []


def test_the_sink_stops_commands_until_the_end(tmp_path) -> None:
    summary = tmp_path / "summary.md"
    stream = io.StringIO()
    sink = GitHubSink(stream, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    sink.start()
    failing = report_for(LINEAR, dataclasses.replace(perfect(LINEAR), steps=()), "bob.py")
    passing = report_for(LINEAR, perfect(LINEAR), "alice.py")
    sink.add(failing, "class/bob.py")
    sink.add(passing, "class/alice.py")
    print("::error::what a student printed", file=stream)
    sink.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"::stop-commands::{sink.token}" and len(sink.token) == 32
    resume = lines.index(f"::{sink.token}::")
    assert lines[1:resume] == ["::error::what a student printed"]  # inside the stretch: not a command
    assert lines[resume + 1:] == annotations(failing, "class/bob.py")
    assert summary.read_text(encoding="utf-8") == markdown.render(failing) + "\n" + markdown.render(passing) + "\n"


def test_without_a_summary_file_only_annotations_are_printed() -> None:
    stream = io.StringIO()
    sink = GitHubSink(stream, environ={})
    sink.start()
    sink.add(report_for(LINEAR, dataclasses.replace(perfect(LINEAR), steps=())), "a.py")
    sink.finish()
    assert sink.summary is None and len(stream.getvalue().splitlines()) > 2
    assert GitHubSink(io.StringIO(), environ={}).token != sink.token  # a fresh token for every run

"""grader/report/github.py: workflow commands that student text cannot forge, GitHub's escaping rules, and
annotations pointing at the student's file."""

from __future__ import annotations

import dataclasses

from builders import LINEAR, perfect, report_for

from grader.report.github import annotations, escape_data, escape_property


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

"""grader/report/junit.py: junit.xml is valid pytest-style xunit2, one testcase per check, whatever bytes the
student's program printed."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from builders import LINEAR, perfect, report_for

from grader.report.junit import render, xml_text
from grader.trace import EXCEPTION, Outcome


def test_junit_is_valid_xunit(graded_class) -> None:
    _, out, _, _ = graded_class
    for path in out.rglob("junit.xml"):
        root = ET.parse(path).getroot()
        assert root.tag == "testsuites"
        for suite in root.findall("testsuite"):
            cases = suite.findall("testcase")
            assert suite.get("name") and int(suite.get("tests")) == len(cases) == 7
            assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
            assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
            float(suite.get("time"))
            for case in cases:
                assert case.get("name") and case.get("classname")
                for bad in case.findall("failure") + case.findall("error"):
                    assert bad.get("message") is not None
    bob = ET.parse(out / "bob" / "junit.xml").getroot()
    failed = [c.get("name") for c in bob.iter("testcase") if c.find("failure") is not None]
    assert failed == ["first_epoch_grads", "training", "final_prediction"]


def test_a_hand_made_report_as_xunit() -> None:
    trace = dataclasses.replace(
        perfect(LINEAR), figures=(), stdout="printed \x00\x1b[31m\n", stderr="warned\n", seconds=1.5,
        outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError", line=3))
    trace = dataclasses.replace(trace, steps=trace.steps[:1])
    report = report_for(LINEAR, trace, "stu<dent>.py")
    root = ET.fromstring(render(report))
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("time")) == ("backprop_linear", "7", "1.500")
    outcome = {c.get("name"): ("failure" if c.find("failure") is not None else
                               "error" if c.find("error") is not None else "pass") for c in suite.iter("testcase")}
    assert outcome == {c.id: c.status.replace("fail", "failure") for c in report.checks}
    assert (suite.get("failures"), suite.get("errors")) == (str(list(outcome.values()).count("failure")),
                                                            str(list(outcome.values()).count("error")))
    assert {c.get("classname") for c in suite.iter("testcase")} == {"backprop_linear.stu<dent>.py"}
    runs = next(c for c in suite.iter("testcase") if c.get("name") == "runs").find("failure")
    assert runs.get("type") == "runs" and runs.text.endswith("(0 / 1 points)")
    out = suite.find("system-out").text
    assert out.startswith("Your program stopped with ValueError (line 3): boom.\n")
    assert "printed \\x00\\x1b[31m" in out  # characters XML cannot hold, written out
    assert suite.find("system-err").text == "warned\n"


def test_xml_text_keeps_what_xml_can_hold() -> None:
    assert xml_text("tab\tnew\nline é 中 \U0001f600") == "tab\tnew\nline é 中 \U0001f600"
    assert xml_text("\x00\x08\x0b\ufffe") == "\\x00\\x08\\x0b\\xfffe"
    assert xml_text(None) == ""

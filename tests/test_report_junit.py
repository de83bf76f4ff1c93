"""grader/report/junit.py: junit.xml is valid pytest-style xunit2, one testcase per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET


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

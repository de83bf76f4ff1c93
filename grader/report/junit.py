"""junit.xml: pytest-style xunit2, one testcase per check, for any CI that reads JUnit reports."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.grade import Report

# Characters XML 1.0 cannot hold at all (student output may contain any byte).
_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str:
    return _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text or "")


def render(report: Report) -> str:
    checks = report.checks
    failures = sum(1 for c in checks if c.status == "fail")
    errors = sum(1 for c in checks if c.status == "error")
    suites = ET.Element("testsuites", name="backprop-grader")
    suite = ET.SubElement(
        suites, "testsuite", name=xml_text(report.assignment), tests=str(len(checks)), failures=str(failures),
        errors=str(errors), skipped="0", time=f"{report.trace.seconds:.3f}",
    )
    classname = f"{report.assignment}.{xml_text(report.submission)}"
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=check.id, time="0")
        if check.status in ("fail", "error"):
            tag = "failure" if check.status == "fail" else "error"
            element = ET.SubElement(case, tag, message=xml_text(check.message), type=check.id)
            element.text = xml_text(f"{check.message}\n({check.points:g} / {check.max_points:g} points)")
    details = "\n".join(f"[{d.id}] {d.message}" for d in report.diagnoses)
    if report.error:
        details = f"{report.error}\n{details}"
    ET.SubElement(suite, "system-out").text = xml_text(details + ("\n" if details else "") + report.trace.stdout[-20000:])
    ET.SubElement(suite, "system-err").text = xml_text(report.trace.stderr[-20000:])
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

"""grader/report/html.py: report.html is one self-contained, well-formed page (no script, no network) with
the diagnosis, the loss chart and the student's figure; student text is escaped; Chinese when asked."""

from __future__ import annotations

import base64
import dataclasses

from builders import LINEAR, parse_html, perfect, report_for
from cases import CASES

from grader.i18n import using
from grader.report import html as html_report


def test_html_of_a_never_reset_gradient_shows_the_plot_and_the_diagnosis(grading) -> None:
    case = next(c for c in CASES if c.name == "linear_grad_not_reset.py")
    page = html_report.render(grading.report(case))
    parsed = parse_html(page)
    assert page.startswith("<!DOCTYPE html>") and 'name="viewport"' in page
    assert "grad_not_reset" in page and "the gradient is never reset" in page
    images = [u for u in parsed.urls if u.startswith("data:image/")]
    assert len(images) >= 2  # the loss chart and the student's own figure
    svg = base64.b64decode(next(u for u in images if u.startswith("data:image/svg+xml")).split(",", 1)[1]).decode()
    assert svg.count("<polyline") >= 2  # the student's loss and the reference
    assert all(u.startswith("data:") for u in parsed.urls), "nothing may be loaded from the network"
    assert "script" not in parsed.tags


def test_html_escapes_student_output() -> None:
    evil = '<script>alert("x")</script><img src="http://evil.example/p.png">'
    trace = dataclasses.replace(perfect(LINEAR), stdout=evil, stderr=evil)
    report = report_for(LINEAR, trace, evil + ".py")
    page = html_report.render(report)
    parsed = parse_html(page)
    assert "script" not in parsed.tags and "evil.example" not in " ".join(parsed.urls)
    assert "&lt;script&gt;" in page


def test_a_chinese_page() -> None:
    trace = dataclasses.replace(perfect(LINEAR), steps=())
    with using("zh"):
        report = report_for(LINEAR, trace, "作业.py")
        page = html_report.render(report)
    assert '<html lang="zh-CN">' in page and "哪里出了问题" in page

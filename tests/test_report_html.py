"""grader/report/html.py: report.html is one self-contained, well-formed page (no script, no network) with
the score, each check, the diagnosis, the gradient table with what is off marked, the loss chart and the
student's figure; student text is escaped; Chinese when asked."""

from __future__ import annotations

import base64
import dataclasses
import xml.etree.ElementTree as ET

import pytest
from builders import LINEAR, parse_html, perfect, report_for, with_grad
from cases import CASES

from grader.i18n import using
from grader.report import html as html_report
from grader.report.html import epoch_losses
from grader.trace import Figure, PlotLine


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


def images(page: str) -> list[str]:
    return [u for u in parse_html(page).urls if u.startswith("data:image/")]


def test_a_scripts_figure_is_redrawn_from_the_values_it_plotted() -> None:
    lines = (PlotLine("_child0", (3.0, 2.0, 1.0)), PlotLine("cost", (1.0, None, 0.5)))
    trace = dataclasses.replace(perfect(LINEAR), figures=(Figure(1, lines),))
    found = images(html_report.render(report_for(LINEAR, trace)))
    assert len(found) == 2  # the loss chart, then the figure
    svg = base64.b64decode(found[1].split(",", 1)[1]).decode()
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "The lines your program plotted (redrawn)" in texts
    assert "#1" in texts and "cost" in texts and "_child0" not in texts  # matplotlib's own names are not shown
    assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 3  # the second line has a gap


def test_a_notebooks_figure_is_embedded_and_a_broken_one_left_out() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    gif = base64.b64encode(b"GIF89a").decode()
    figures = (Figure(1, (), png=png), Figure(2, (), png="not base64!"), Figure(3, (), png=gif))
    trace = dataclasses.replace(perfect(LINEAR), figures=figures)
    found = images(html_report.render(report_for(LINEAR, trace)))
    assert len(found) == 2 and found[1] == f"data:image/png;base64,{png}"


def test_the_gradient_table_marks_what_is_off() -> None:
    changed = with_grad(perfect(LINEAR), 1, "w", -9.84)
    trace = dataclasses.replace(changed, steps=changed.steps[:2])  # and the third step never ran
    page = parse_html(html_report.render(report_for(LINEAR, trace)))
    table = page.root.find_all("table")[0]
    cells = [[(td.attrs.get("class"), td.text()) for td in tr.find_all("td")] for tr in table.find_all("tr")[1:]]
    assert cells[0][3] == ("num", "-2") and cells[1][3] == ("num off", "-9.84") and cells[2][3] == ("num off", "—")
    assert [row[4] for row in cells] == [("num", "-2"), ("num", "-7.84"), ("num", "-16.2288")]


def test_the_loss_chart_shows_the_mean_loss_of_each_whole_epoch() -> None:
    trace = perfect(LINEAR)
    report = report_for(LINEAR, dataclasses.replace(trace, steps=trace.steps[:7]))
    losses = epoch_losses(report)
    assert losses == [sum(s.loss for s in trace.steps[i:i + 3]) / 3 for i in (0, 3)]  # the 7th step: no whole epoch
    broken = dataclasses.replace(trace, steps=(dataclasses.replace(trace.steps[0], loss=None),) + trace.steps[1:6])
    assert epoch_losses(report_for(LINEAR, broken))[0] is None
    assert epoch_losses(report_for(LINEAR, perfect(LINEAR))) == pytest.approx(list(report.reference.epoch_costs))


def test_each_check_and_the_score_are_shown() -> None:
    trace = dataclasses.replace(perfect(LINEAR), figures=())
    page = parse_html(html_report.render(report_for(LINEAR, trace)))
    score = next(p for p in page.root.find_all("p") if "score" in p.attrs.get("class", ""))
    assert score.text() == "10 / 10" and "full" in score.attrs["class"]
    checks = [d for d in page.root.find_all("div") if "check" in d.attrs.get("class", "").split()]
    assert [d.find("code").text() for d in checks] == [c.id for c in LINEAR.checks]
    plot = checks[-1]
    assert plot.attrs["class"] == "check st-fail" and "0 / 0" in plot.text() and "No figure" in plot.text()

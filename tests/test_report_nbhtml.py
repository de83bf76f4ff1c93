"""grader/report/nbhtml.py: graded.html, the graded notebook rendered by nbconvert: the grade and every cell
that ran, openable with no network, and inert whatever the student's notebook holds."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser

from cases import CASES

from grader.report import nbhtml, write_reports

BY_NAME = {c.name: c for c in CASES}
EVIL_MARKDOWN = ("# Notes <script>alert(1)</script>\n<img src=x onerror=alert(2)>\n[click](javascript:alert(3))\n"
                 "<iframe src=https://example.com></iframe>")


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_the_graded_notebook_is_a_page_with_the_grade_and_the_cells(grading) -> None:
    report = grading.report(BY_NAME["backprop_linear_nb.ipynb"])
    page = parsed(nbhtml.render(report))
    text = re.sub(r"\s+", " ", "".join(page.text))
    assert "Score: 10 / 10" in text and "def forward" in text and "predict (after training)" in text
    assert any(tag == "img" and a.get("src", "").startswith("data:image/png;base64,") for tag, a in page.tags)


def test_a_script_gets_no_graded_html(grading, tmp_path) -> None:
    report = grading.report(BY_NAME["backprop_linear.py"])
    assert nbhtml.render(report) is None
    written = write_reports(report, tmp_path / "r", ("md", "html"))
    assert "graded-html" not in written and not (tmp_path / "r" / "graded.html").exists()


def test_with_the_html_format_a_notebook_gets_graded_html_beside_graded_ipynb(grading, tmp_path) -> None:
    report = grading.report(BY_NAME["backprop_linear_nb.ipynb"])
    assert (tmp_path / "a" / "graded.html").name in {p.name for p in write_reports(report, tmp_path / "a", ("html",)).values()}
    assert "graded-html" not in write_reports(report, tmp_path / "b", ("json",))


def test_nothing_the_student_wrote_becomes_markup_or_a_request(grading) -> None:
    """Markdown cells with a script, an event handler, a javascript: link and an iframe, a raw cell with a
    script, and printed HTML: no script element, no handler, no link or source off the page, and a policy
    that would stop one anyway."""
    report = grading.report(BY_NAME["backprop_linear_nb.ipynb"])
    notebook = json.loads(report.notebook)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = EVIL_MARKDOWN
    notebook["cells"].append({"cell_type": "raw", "metadata": {}, "source": "<script>alert(4)</script>"})
    cells = tuple(dataclasses.replace(c, stdout=c.stdout + "<script>alert(5)</script><b onclick=x>")
                  for c in report.trace.cells)
    evil = dataclasses.replace(report, notebook=json.dumps(notebook),
                               trace=dataclasses.replace(report.trace, cells=cells))
    page_text = nbhtml.render(evil)
    page = parsed(page_text)
    assert not [tag for tag, _ in page.tags if tag in ("script", "iframe", "object", "embed")]
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.lower().startswith("on")]
    for tag, attrs in page.tags:
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "http:", "https:", "//")), (tag, attrs)
    policy = [a for tag, a in page.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0]["content"]
    text = "".join(page.text)
    assert "<script>alert(1)</script>" in text and "<script>alert(5)</script>" in text  # shown, as text
    assert "alert(4)" not in page_text  # the raw cell is left out


def test_a_page_nbconvert_cannot_make_costs_nothing(grading, monkeypatch) -> None:
    """nbconvert failing on a notebook leaves a page that says so (the grade and graded.ipynb stand)."""
    report = grading.report(BY_NAME["backprop_linear_nb.ipynb"])

    def broken(nb):
        raise ValueError("<b>unexpected</b> cell")

    monkeypatch.setattr(nbhtml, "_page", broken)
    page = nbhtml.render(report)
    assert "could not be made (ValueError: &lt;b&gt;unexpected&lt;/b&gt; cell)" in page and "<b>" not in page
    assert "default-src 'none'" in page

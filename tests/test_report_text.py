"""grader/report/text.py: what several writers show alike: safe Markdown (table cells, list lines, code
fences), excerpts of long output, status words and points, and the first epoch's rows."""

from __future__ import annotations

import dataclasses
import math

import pytest
from builders import LINEAR, QUADRATIC, perfect, report_for, with_grad

from grader.i18n import using
from grader.report.text import excerpt, fenced, first_epoch_rows, inline, one_line, points, status_label


def test_inline_and_fenced_helpers() -> None:
    assert inline("a|b\nc<d") == "a\\|b<br>c\\<d"
    assert fenced("``` x ````").startswith("`````text\n")


def test_inline_keeps_a_table_row_whole() -> None:
    assert inline("a\r\nb & <i>c</i>") == "a<br>b \\& \\<i\\>c\\</i\\>"
    assert inline(None) == ""


def test_one_line_cannot_start_a_block() -> None:
    assert one_line("carol `x`\n# heading\n- item|") == "carol `x` # heading - item\\|"
    assert one_line(None) == ""


def test_a_fence_outgrows_the_backticks_inside() -> None:
    assert fenced("print(1)\n\n") == "```text\nprint(1)\n```"
    text = "a ```` b"
    block = fenced(text)
    assert block == "`````text\na ```` b\n`````"


def test_excerpt_keeps_the_first_and_last_lines() -> None:
    short = "\n".join(f"line {i}" for i in range(40))
    assert excerpt(short + "\n\n") == short
    long = "\n".join(f"line {i}" for i in range(100))
    rows = excerpt(long, lines=10).splitlines()
    assert rows[:5] == [f"line {i}" for i in range(5)] and rows[-5:] == [f"line {i}" for i in range(95, 100)]
    assert rows[5] == "[... 90 lines left out ...]"


def test_status_words_and_points() -> None:
    assert [status_label(s) for s in ("pass", "fail", "error", "other")] == ["pass", "fail", "error", "other"]
    with using("zh"):
        assert status_label("pass") != "pass"
        with using("en"):
            assert status_label("pass") == "pass"
    assert (points(2.0), points(0.5), points(10)) == ("2", "0.5", "10")


@pytest.mark.parametrize("spec", [LINEAR, QUADRATIC], ids=lambda s: s.name)
def test_first_epoch_rows_beside_the_expected_ones(spec) -> None:
    rows = first_epoch_rows(report_for(spec, perfect(spec)))
    assert [(r["step"], r["x"], r["y"]) for r in rows] == [(1, 1.0, 2.0), (2, 2.0, 4.0), (3, 3.0, 6.0)]
    assert all(r["observed"] == r["expected"] and set(r["expected"]) == set(spec.param_names) for r in rows)


def test_first_epoch_rows_of_a_short_or_broken_run() -> None:
    trace = with_grad(perfect(LINEAR), 0, "w", math.nan)
    trace = dataclasses.replace(trace, steps=trace.steps[:2])
    rows = first_epoch_rows(report_for(LINEAR, trace))
    assert rows[0]["observed"] == {"w": "nan"} and rows[0]["expected"] == {"w": -2.0}
    assert rows[1]["observed"] == {"w": -7.840000152587891}
    assert rows[2]["observed"] is None  # the third step never ran


@pytest.mark.parametrize("lines", [11, 1])
def test_excerpt_counts_what_it_leaves_out_for_any_length(lines) -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    rows = excerpt(text, lines=lines).splitlines()
    shown = [r for r in rows if r.startswith("line ")]
    (marker,) = [r for r in rows if r.startswith("[...")]
    assert len(shown) <= lines
    assert marker == f"[... {100 - len(shown)} lines left out ...]"


def test_a_web_address_next_to_a_bar_cannot_end_a_table_cell_and_become_a_link() -> None:
    """Found by the property test: the address was made a code span holding the `|`, which ended the cell."""
    from markdown_it import MarkdownIt

    cell = inline("raised [x](http://evil.example)|.")
    html = MarkdownIt("gfm-like").render(f"| a |\n|---|\n| {cell} |\n")
    assert "<a " not in html and html.count("<td>") == 1


@pytest.mark.parametrize("text", ["[x](http://evil.example)``0``", "``0``http://evil.example",
                                  "`a`https://evil.example`b`"])
def test_a_web_address_beside_a_code_span_stays_code(text) -> None:
    """Found by the property test: the address shown as code touched the student's own code span, the two
    backtick runs merged into one, neither span closed, and the address became a link."""
    from markdown_it import MarkdownIt

    for shown in (one_line(text), inline(text)):
        html = MarkdownIt("gfm-like").render(shown)
        assert "<a " not in html, html
        assert "<code>http" in html, html  # still shown, as code

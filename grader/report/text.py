"""What several report writers show the same way: status words, points, safe Markdown, output excerpts,
and the first epoch's gradients beside the expected ones.

Writers import from here and never from one another, so each writer module holds only its own format.
"""

from __future__ import annotations

import re
from typing import Any

from grader.grade import Report
from grader.i18n import _
from grader.trace import encode_number


def status_label(status: str) -> str:
    """The status word shown to people (report.json keeps the ids pass/fail/error)."""
    return {"pass": _("pass"), "fail": _("fail"), "error": _("error")}.get(status, status)


def points(value: float) -> str:
    return f"{value:g}"


def _markdown_escaped(text: str | None) -> str:
    """No HTML and no table breaks: the characters Markdown would read as markup, escaped."""
    text = "" if text is None else str(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def inline(text: str | None) -> str:
    """Student-influenced text made safe for a Markdown table cell: no HTML, no table breaks."""
    return _markdown_escaped(text).replace("\r", "").replace("\n", "<br>")


def one_line(text: str | None) -> str:
    """Student-influenced text made safe for one line of a Markdown list: line breaks become spaces and
    backticks quotes, so nothing can open a code span or a new block."""
    return _markdown_escaped(text).replace("\n", " ").replace("`", "'")


def fenced(text: str) -> str:
    """A code block whose fence is longer than any run of backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def excerpt(text: str, lines: int = 40) -> str:
    """The first and last lines of a long output, with how many were left out between them."""
    rows = text.rstrip().splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    head = (lines + 1) // 2  # the odd line goes to the head
    tail = rows[len(rows) - (lines - head):]
    left_out = len(rows) - head - len(tail)
    return "\n".join(rows[:head] + [_("[... {n} lines left out ...]").format(n=left_out)] + tail)


def first_epoch_rows(report: Report) -> list[dict[str, Any]]:
    """Each step of the first epoch: the sample, and each parameter's gradient, expected and observed
    (numbers as report.json writes them: non-finite ones as strings)."""
    spec = report.spec
    rows = []
    for index in range(spec.samples):
        want = report.reference.steps[index]
        got = report.trace.steps[index] if index < len(report.trace.steps) else None
        rows.append(
            {
                "step": index + 1,
                "x": spec.x[index],
                "y": spec.y[index],
                "expected": {k: encode_number(v) for k, v in want.grads.items()},
                "observed": None if got is None else {k: encode_number(v) for k, v in got.grads.items()},
            }
        )
    return rows

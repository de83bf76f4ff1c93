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


ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}


def checks_table(report: Report) -> list[str]:
    """The checks as a Markdown table (report.md, and the first cell of graded.ipynb)."""
    out = ["| " + " | ".join([_("Check"), _("Result"), _("Points"), _("Details")]) + " |", "|---|---|---|---|"]
    for check in report.checks:
        out.append(f"| `{check.id}` | {ICONS.get(check.status, '')} {status_label(check.status)} | "
                   f"{points(check.points)} / {points(check.max_points)} | {inline(check.message)} |")
    return out


def diagnoses_list(report: Report) -> list[str]:
    """The diagnoses as a Markdown list: a few words, the id, the message."""
    from grader.diagnose import title

    return [f"- **{inline(title(d.id))}** (`{d.id}`) — {inline(d.message)}" for d in report.diagnoses]


def saved_at(report: Report) -> str | None:
    """When the graded file was last saved, in local time (ISO 8601 with its offset), None if unknown."""
    import datetime

    if report.saved is None:
        return None
    return datetime.datetime.fromtimestamp(report.saved).astimezone().isoformat(timespec="seconds")


def saved_line(report: Report) -> str | None:
    """Which version of the file was graded: students who work in Jupyter forget to save."""
    when = saved_at(report)
    if when is None:
        return None
    return _("Graded as saved at {when}: the grader reads the saved file, so save your work (Ctrl+S) before "
             "checking.").format(when=when.replace("T", " ")[:19])


# What Markdown reads as markup within a line: links and images (no [ ], no link, whatever follows), raw
# HTML and autolinks (< >), entities (&), emphasis (* _), tables (|), code (`) and the escape itself.
# (Headings and lists begin a line: student text never does here.)
_MARKUP = re.compile(r"([\\`*_\[\]<>|&])")
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)[^\s|`]+", re.IGNORECASE)  # a | ends it: it may end a table cell


def _code_spans(text: str) -> list[tuple[bool, str]]:
    """The text cut into code spans and the rest, as CommonMark pairs backtick runs: a run opens a span
    that the next run of the same length closes; a run that nothing closes is plain text."""
    pieces: list[tuple[bool, str]] = []
    runs = list(re.finditer(r"`+", text))
    start = position = 0
    while position < len(runs):
        opening = runs[position]
        closing = next((i for i in range(position + 1, len(runs)) if len(runs[i].group()) == len(opening.group())),
                       None)
        if closing is None:
            position += 1
            continue
        pieces.append((False, text[start:opening.start()]))
        pieces.append((True, text[opening.start():runs[closing].end()]))
        start, position = runs[closing].end(), closing + 1
    pieces.append((False, text[start:]))
    return [(code, piece) for code, piece in pieces if piece]


def html_inline(text: str | None) -> str:
    """Text for HTML: escaped, its code spans (`...`) shown as <code>, as Markdown would show them."""
    from html import escape

    out = []
    for code, piece in _code_spans(text or ""):
        if code:
            fence = len(piece) - len(piece.lstrip("`"))
            inner = piece[fence:-fence]
            if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
                inner = inner[1:-1]
            out.append(f"<code>{escape(inner)}</code>")
        else:
            out.append(escape(piece))
    return "".join(out)


def code_span(text: str) -> str:
    """``text`` as one code span, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _plain(text: str) -> str:
    """Text outside code: every markup character escaped, web addresses shown as code (never a link)."""
    out, start = [], 0
    for url in _URL.finditer(text):
        out += [_MARKUP.sub(r"\\\1", text[start:url.start()]), code_span(url.group())]
        start = url.end()
    out.append(_MARKUP.sub(r"\\\1", text[start:]))
    return "".join(out)


def markdown(text: str | None, table: bool = False) -> str:
    """Text that may hold student words, for Markdown: code spans stay code spans (nothing in them is a link
    or markup); everything else is shown as it is, so no link, image, HTML or heading can be made of it.
    In a table cell (``table``) a ``|`` in code is escaped too, as GitHub's tables want."""
    text = "" if text is None else str(text)
    out: list[str] = []
    for code, piece in _code_spans(text):
        shown = (piece.replace("|", "\\|") if table else piece) if code else _plain(piece)
        if out and out[-1].endswith("`") and shown.startswith("`"):
            out.append(" ")  # two backtick runs side by side are one run: both spans would come undone
        out.append(shown)
    return "".join(out)


def inline(text: str | None) -> str:
    """``markdown`` for a table cell: line breaks as <br>, and no ``|`` that could end the cell."""
    text = "" if text is None else str(text).replace("\r", "")
    return "<br>".join(markdown(line, table=True) for line in text.split("\n"))


def one_line(text: str | None) -> str:
    """``markdown`` for one line of a list: line breaks become spaces."""
    return markdown(("" if text is None else str(text)).replace("\r", "").replace("\n", " "))


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

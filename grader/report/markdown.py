"""report.md: the score, one row per check, the first-epoch gradients beside the expected ones."""

from __future__ import annotations

import re

from grader.check import fmt
from grader.grade import Report
from grader.i18n import _
from grader.report.jsonreport import first_epoch_rows

ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}


def status_label(status: str) -> str:
    """The status word shown to people (report.json keeps the ids pass/fail/error)."""
    return {"pass": _("pass"), "fail": _("fail"), "error": _("error")}.get(status, status)


def inline(text: str | None) -> str:
    """Student-influenced text made safe for a Markdown table cell: no HTML, no table breaks."""
    text = "" if text is None else str(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
    return text


def fenced(text: str) -> str:
    """A code block whose fence is longer than any run of backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def points(value: float) -> str:
    return f"{value:g}"


def render(report: Report) -> str:
    out = [
        f"# {inline(report.title)}",
        "",
        _("Submission: `{name}` · assignment `{assignment}`").format(
            name=inline(report.submission).replace("`", "'"), assignment=report.assignment
        ),
        "",
        _("**Score: {score} / {max}**").format(score=points(report.score), max=points(report.max_score)),
        "",
    ]
    if report.error:
        out += [f"> ⚠️ {inline(report.error)}", ""]
    out += [
        "| " + " | ".join([_("Check"), _("Result"), _("Points"), _("Details")]) + " |",
        "|---|---|---|---|",
    ]
    for check in report.checks:
        out.append(
            f"| `{check.id}` | {ICONS.get(check.status, '')} {status_label(check.status)} | "
            f"{points(check.points)} / {points(check.max_points)} | {inline(check.message)} |"
        )
    if report.diagnoses:
        out += ["", "## " + _("What went wrong"), ""]
        out += [f"- **`{d.id}`** — {inline(d.message)}" for d in report.diagnoses]
    out += ["", "## " + _("First-epoch gradients"), ""]
    names = report.spec.param_names
    header = [_("Step"), "x", "y"]
    for name in names:
        header += [_("{name}.grad (yours)").format(name=name), _("{name}.grad (expected)").format(name=name)]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in first_epoch_rows(report):
        cells = [str(row["step"]), f"{row['x']:g}", f"{row['y']:g}"]
        for name in names:
            want = row["expected"][name]
            got = None if row["observed"] is None else row["observed"][name]
            shown = "—" if got is None else fmt(float(got))
            cells += [shown, fmt(float(want))]
        out.append("| " + " | ".join(cells) + " |")
    trace = report.trace
    if trace.outcome.traceback:
        out += ["", "## " + _("Where your program stopped"), "", fenced(trace.outcome.traceback)]
    if report.notes:
        out += ["", "## " + _("Notes"), ""] + [f"- {inline(note)}" for note in report.notes]
    for title, text in ((_("Output (stdout)"), trace.stdout), (_("Errors (stderr)"), trace.stderr)):
        if text.strip():
            out += ["", f"## {title}", "", fenced(_excerpt(text))]
    return "\n".join(out) + "\n"


def _excerpt(text: str, lines: int = 40) -> str:
    rows = text.rstrip().splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    half = lines // 2
    return "\n".join(rows[:half] + [_("[... {n} lines left out ...]").format(n=len(rows) - lines)] + rows[-half:])

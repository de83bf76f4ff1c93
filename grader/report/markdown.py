"""report.md: the score, one row per check, the first-epoch gradients beside the expected ones."""

from __future__ import annotations

from grader.check import fmt
from grader.grade import Report
from grader.i18n import _
from grader.report.text import (checks_table, diagnoses_list, excerpt, fenced, first_epoch_rows, inline, points,
                                saved_line)

def render(report: Report) -> str:
    out = [
        f"# {report.title}",
        "",
        _("Submission: `{name}` · assignment `{assignment}`").format(
            name=report.submission.replace("`", "'"), assignment=report.assignment
        ),
        "",
        *([saved_line(report), ""] if saved_line(report) else []),
        _("**Score: {score} / {max}**").format(score=points(report.score), max=points(report.max_score)),
        "",
    ]
    if report.error:
        out += [f"> ⚠️ {inline(report.error)}", ""]
    out += checks_table(report)
    if report.diagnoses:
        out += ["", "## " + _("What went wrong"), ""] + diagnoses_list(report)
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
            out += ["", f"## {title}", "", fenced(excerpt(text))]
    return "\n".join(out) + "\n"


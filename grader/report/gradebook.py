"""The class view of a batch: grades.csv, summary.md and summary.html, built from entries alone.

``write_gradebook`` writes the three files into a batch's output folder (each atomically); the other
functions only render text.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from html import escape
from pathlib import Path
from typing import Sequence

from grader.i18n import _
from grader.report import atomic_write_all
from grader.report.text import one_line


def _assignments(entries) -> list[str]:
    return sorted({e.assignment for e in entries})


def _check_ids(entries, assignment: str) -> list[str]:
    ids: dict[str, None] = {}
    for e in entries:
        if e.assignment == assignment:
            ids.update(dict.fromkeys(e.points))
    return list(ids)


def grades_csv(entries: Sequence) -> str:
    """One row per student (sorted), the student id first; per assignment its score, max score, status
    and the points of each check.  A student without a submission for an assignment is 'missing'."""
    assignments = _assignments(entries)
    checks = {a: _check_ids(entries, a) for a in assignments}
    header = ["student"]
    for a in assignments:
        header += [f"{a}:score", f"{a}:max_score", f"{a}:status"] + [f"{a}:{c}" for c in checks[a]]
    rows: dict[str, dict[str, object]] = {}
    for e in sorted(entries, key=lambda e: (e.student, e.assignment, e.folder)):
        row = rows.setdefault(e.student, {"student": e.student})
        if f"{e.assignment}:score" in row:  # a second file for the same assignment: keep the better one
            if row[f"{e.assignment}:score"] >= e.score:
                continue
        row.update({f"{e.assignment}:score": e.score, f"{e.assignment}:max_score": e.max_score,
                    f"{e.assignment}:status": e.status})
        row.update({f"{e.assignment}:{c}": p for c, p in e.points.items()})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for student in sorted(rows):
        row = rows[student]
        for a in assignments:
            row.setdefault(f"{a}:status", "missing")
        writer.writerow({k: (f"{v:g}" if isinstance(v, float) else spreadsheet_text(v)) for k, v in row.items()})
    return buffer.getvalue()


def spreadsheet_text(value: object) -> object:
    """A text cell no spreadsheet runs as a formula: one that starts with = + - @, a tab or a carriage
    return gets a leading apostrophe, which spreadsheets show as text (OWASP's advice for CSV files)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _stats(entries, assignment: str) -> dict:
    mine = sorted((e for e in entries if e.assignment == assignment), key=lambda e: (e.student, e.folder))
    max_score = max((e.max_score for e in mine), default=0)
    histogram = Counter(int(e.score) for e in mine)
    checks = _check_ids(entries, assignment)
    pass_rate = {c: sum(1 for e in mine if e.statuses.get(c) == "pass") / len(mine) for c in checks} if mine else {}
    diagnoses = Counter(d for e in mine for d in e.diagnoses).most_common()
    failed = [e for e in mine if e.status != "graded"]
    ran = [set(e.isolation) for e in mine if e.isolation]
    walls = sorted(set.intersection(*ran)) if ran else []
    weaker = sum(1 for held in ran if not held >= set.union(*ran))
    slowest = sorted(mine, key=lambda e: (-e.seconds, e.student))[:5]
    return {
        "count": len(mine),
        "max_score": max_score,
        "mean": statistics.fmean(e.score for e in mine) if mine else 0.0,
        "full": sum(1 for e in mine if e.full_marks),
        "histogram": [(score, histogram.get(score, 0)) for score in range(int(max_score) + 1)],
        "pass_rate": pass_rate,
        "diagnoses": diagnoses,
        "failed": failed,
        "slowest": slowest,
        "walls": walls,
        "weaker": weaker,
    }


def walls_line(s: dict) -> str:
    """The walls every child of the assignment had, and how many had fewer than the others."""
    line = _("Walls around every submission: {walls}.").format(walls=", ".join(s["walls"]) or _("none"))
    if s["weaker"]:
        line += " " + _("{n} submissions had fewer.").format(n=s["weaker"])
    return line


def summary_md(entries: Sequence, note: str | None = None) -> str:
    out = ["# " + _("Class summary"), ""] + ([f"> ⚠️ {one_line(note)}", ""] if note else [])
    for a in _assignments(entries):
        s = _stats(entries, a)
        out += [f"## `{a}`", "",
                _("{n} submissions, mean score {mean:.2f} / {max:g}, {full} with full marks.").format(
                    n=s["count"], mean=s["mean"], max=s["max_score"], full=s["full"]), "", walls_line(s), "",
                "### " + _("Scores"), "", "| " + _("Score") + " | " + _("Students") + " | |", "|---|---|---|"]
        top = max((n for _, n in s["histogram"]), default=1) or 1
        for score, n in s["histogram"]:
            out.append(f"| {score} | {n} | {'█' * round(20 * n / top)} |")
        out += ["", "### " + _("Pass rate per check"), "", "| " + _("Check") + " | " + _("Pass rate") + " |", "|---|---|"]
        out += [f"| `{c}` | {rate:.0%} |" for c, rate in s["pass_rate"].items()]
        out += ["", "### " + _("Most common diagnoses"), ""]
        out += [f"- `{d}`: {n}" for d, n in s["diagnoses"]] or ["- " + _("none")]
        out += ["", "### " + _("Did not run to the end"), ""]
        out += [f"- {one_line(e.student)} ({e.status}): {one_line(e.error or '')}" for e in s["failed"]] or ["- " + _("none")]
        out += ["", "### " + _("Slowest"), ""]
        out += [f"- {one_line(e.student)}: {e.seconds:.2f} s" for e in s["slowest"]]
        out.append("")
    return "\n".join(out) + "\n"


def summary_html(entries: Sequence, note: str | None = None) -> str:
    e = escape
    parts = ["<!DOCTYPE html>", '<html lang="{}"><head><meta charset="utf-8">'.format(e(_("en"))),
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(_('Class summary'))}</title><style>"
             "body{font-family:system-ui,sans-serif;margin:0;padding:12px;background:#f8f9fa;color:#212529}"
             "main{max-width:880px;margin:auto}table{border-collapse:collapse;background:#fff;width:100%}"
             "th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left}"
             ".bar{background:#4dabf7;height:12px;display:inline-block}</style></head><body><main>",
             f"<h1>{e(_('Class summary'))}</h1>"] + ([f'<p class="note">⚠ {e(note)}</p>'] if note else [])
    for a in _assignments(entries):
        s = _stats(entries, a)
        parts.append(f"<h2><code>{e(a)}</code></h2><p>" + e(
            _("{n} submissions, mean score {mean:.2f} / {max:g}, {full} with full marks.").format(
                n=s["count"], mean=s["mean"], max=s["max_score"], full=s["full"])) + "</p>"
                     + f"<p>{e(walls_line(s))}</p>")
        top = max((n for _, n in s["histogram"]), default=1) or 1
        parts.append(f"<h3>{e(_('Scores'))}</h3><table><tr><th>{e(_('Score'))}</th><th>{e(_('Students'))}</th><th></th></tr>")
        for score, n in s["histogram"]:
            parts.append(f'<tr><td>{score}</td><td>{n}</td><td><span class="bar" style="width:{round(200 * n / top)}px"></span></td></tr>')
        parts.append(f"</table><h3>{e(_('Pass rate per check'))}</h3><table>")
        parts += [f"<tr><td><code>{e(c)}</code></td><td>{rate:.0%}</td></tr>" for c, rate in s["pass_rate"].items()]
        parts.append(f"</table><h3>{e(_('Most common diagnoses'))}</h3><ul>")
        parts += [f"<li><code>{e(d)}</code>: {n}</li>" for d, n in s["diagnoses"]] or [f"<li>{e(_('none'))}</li>"]
        parts.append(f"</ul><h3>{e(_('Did not run to the end'))}</h3><ul>")
        parts += [f"<li>{e(x.student)} ({e(x.status)}): {e(x.error or '')}</li>" for x in s["failed"]] or [f"<li>{e(_('none'))}</li>"]
        parts.append(f"</ul><h3>{e(_('Slowest'))}</h3><ul>")
        parts += [f"<li>{e(x.student)}: {x.seconds:.2f} s</li>" for x in s["slowest"]]
        parts.append("</ul>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def incomplete_note(entries: Sequence, planned: int | None) -> str | None:
    """What a summary says first when its batch was interrupted (``planned``: the submissions it had)."""
    if planned is None:
        return None
    return _("Incomplete: the batch was interrupted after {n} of {total} submissions; run it again with "
             "--resume to grade the rest.").format(n=len(entries), total=planned)


def write_gradebook(out: Path, entries: Sequence, incomplete: int | None = None) -> None:
    """grades.csv, summary.md and summary.html of these entries, in ``out``; ``incomplete``: the number of
    submissions an interrupted batch had, which the summaries say first."""
    note = incomplete_note(entries, incomplete)
    atomic_write_all(out, {"grades.csv": grades_csv(entries), "summary.md": summary_md(entries, note),
                           "summary.html": summary_html(entries, note)})

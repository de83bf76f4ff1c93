"""Checking a notebook from inside it: the last cell of the kit's skeleton notebooks.

    from grader.selfcheck import check
    check("backprop_linear.ipynb")

grades the notebook **as saved on disk** with the interpreter the kernel runs (``sys.executable -m grader``,
so it works whatever PATH Jupyter was started with), then shows in the notebook the score, each check and
what went wrong, in the student's language: HTML where the front end shows it, plain text otherwise (a
terminal, a script).  The grader never runs this cell while grading (grader/notebook.py recognises it).

No torch here: the grading itself happens in the child processes of the command.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from grader.i18n import _, default_language, using
from grader.report.text import ICONS, html_inline  # the reports' own icons and code spans (numpy, no torch)

@dataclass(frozen=True)
class Outcome:
    """What one self-check found: the report (report.json as a dict) when the grader wrote one, else why
    not; where the full report is; when the graded file was saved."""

    path: Path
    report: dict | None = None
    problem: str | None = None
    html_report: Path | None = None
    saved: float | None = None
    lines: tuple[str, ...] = field(default=())


def run_check(path, *, lang: str | None = None, out: str = "grader-reports", timeout: float | None = None) -> Outcome:
    """Grade ``path`` with ``python -m grader check`` and read its report.json."""
    path = Path(path)
    lang = lang or default_language()
    session = os.environ.get("JPY_SESSION_NAME")  # Jupyter Server 2 names the notebook a kernel runs
    if not path.is_file() and session and session.endswith(".ipynb") and Path(session).is_file():
        path = Path(session)  # the notebook was renamed: check the one this kernel runs
    with using(lang):
        if not path.is_file():
            return Outcome(path, problem=_("There is no file {name} in {folder}. Save the notebook first (Ctrl+S), "
                                           "and give check() its file name.").format(
                name=path.name, folder=path.resolve().parent))
        saved = path.stat().st_mtime
        command = [sys.executable, "-m", "grader", "check", str(path), "--out", out, "--lang", lang,
                   "--format", "json,html,md"]
        if timeout is not None:
            command += ["--timeout", str(timeout)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace",
                                  timeout=(timeout or 60) + 120, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome(path, problem=_("The grader did not finish in time."), saved=saved)
        folder = _report_folder(done.stdout, Path(out), path)
        report_json = folder / "report.json"
        if done.returncode not in (0, 1) or not report_json.is_file():
            said = (done.stderr or done.stdout).strip().splitlines()
            return Outcome(path, problem=_("The grader could not grade {name}: {why}").format(
                name=path.name, why=said[-1] if said else f"exit {done.returncode}"), saved=saved)
        report = json.loads(report_json.read_text(encoding="utf-8"))
        html_report = folder / "report.html"
        return Outcome(path, report=report, html_report=html_report if html_report.is_file() else None, saved=saved,
                       lines=tuple(done.stdout.splitlines()))


def _report_folder(stdout: str, out: Path, path: Path) -> Path:
    """The folder of the report: what the console line points at (``-> .../report.md``), else OUT/stem."""
    for line in stdout.splitlines():
        found = re.search(r" -> (.+?report\.\w+)", line)
        if found:
            return Path(found.group(1)).parent
    return out / path.stem


def _when(saved: float | None) -> str:
    if saved is None:
        return "?"
    moment = datetime.datetime.fromtimestamp(saved).strftime("%H:%M:%S")
    minutes = int((time.time() - saved) // 60)
    if minutes < 1:
        return _("{time}, less than a minute ago").format(time=moment)
    return _("{time}, {minutes} min ago").format(time=moment, minutes=minutes)


def _graded_line(outcome: Outcome) -> str:
    return _("Graded {name} as saved at {when}. The grader reads the saved file: save (Ctrl+S) before checking.").format(
        name=outcome.path.name, when=_when(outcome.saved))


def as_text(outcome: Outcome) -> str:
    """The check's result for a terminal or a front end without HTML."""
    lines = [_graded_line(outcome)]
    report = outcome.report
    if report is None:
        return "\n".join(lines + [str(outcome.problem)])
    lines.append(_("Score: {score:g} / {max:g}").format(score=report["score"], max=report["max_score"]))
    if report.get("error"):
        lines.append(str(report["error"]))
    for check in report.get("checks", []):
        lines.append("  " + _("{icon} {check} {points}: {message}").format(
            icon=ICONS.get(check["status"], "?"), check=check["id"],
            points=f"{check['points']:g}/{check['max_points']:g}", message=check["message"]))
    if report.get("diagnoses"):
        lines.append(_("What went wrong"))
        lines += ["  - " + _("{title} ({id}): {message}").format(title=d.get("title", d["id"]), id=d["id"],
                                                                message=d["message"]) for d in report["diagnoses"]]
    if outcome.html_report is not None:
        lines.append(_("Full report: {path}").format(path=outcome.html_report))
    return "\n".join(lines)


def as_html(outcome: Outcome) -> str:
    """The check's result as an HTML fragment for the notebook (every string escaped: it holds student text)."""
    parts = ['<div style="border:1px solid #ced4da;border-radius:6px;padding:8px 12px;max-width:880px">',
             f"<p>{escape(_graded_line(outcome))}</p>"]
    report = outcome.report
    if report is None:
        parts.append(f"<p><b>{escape(str(outcome.problem))}</b></p></div>")
        return "".join(parts)
    full = report["score"] >= report["max_score"] and not report.get("error")
    colour = "#2b8a3e" if full else "#d9480f"
    parts.append(f'<p style="font-size:1.6em;font-weight:bold;color:{colour};margin:4px 0">'
                 f'{report["score"]:g} / {report["max_score"]:g}</p>')
    if report.get("error"):
        parts.append(f'<p style="background:#fff3bf;padding:6px">{html_inline(str(report["error"]))}</p>')
    if report.get("diagnoses"):
        parts.append(f"<h4>{escape(_('What went wrong'))}</h4>")
        for d in report["diagnoses"]:
            parts.append(f'<p style="border-left:4px solid #d9480f;padding-left:8px"><b>{escape(str(d.get("title", d["id"])))}'
                         f'</b> <code>{escape(str(d["id"]))}</code><br>{html_inline(str(d["message"]))}</p>')
    parts.append("<table>")
    for check in report.get("checks", []):
        parts.append(f"<tr><td>{ICONS.get(check['status'], '?')}</td><td><code>{escape(str(check['id']))}</code></td>"
                     f"<td>{check['points']:g}/{check['max_points']:g}</td><td>{html_inline(str(check['message']))}</td></tr>")
    parts.append("</table>")
    if outcome.html_report is not None:
        parts.append(f"<p>{escape(_('Full report: {path}').format(path=outcome.html_report))}</p>")
    parts.append("</div>")
    return "".join(parts)


def check(path, *, lang: str | None = None, out: str = "grader-reports", timeout: float | None = None) -> None:
    """Grade the saved notebook (or script) ``path`` and show the result here: HTML in Jupyter, text
    elsewhere.  Returns nothing, so the cell shows only the result."""
    lang = lang or default_language()
    outcome = run_check(path, lang=lang, out=out, timeout=timeout)
    with using(lang):
        shell = None
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            pass
        if shell is not None:  # both forms: each front end shows the richest it can
            from IPython.display import display

            display({"text/html": as_html(outcome), "text/plain": as_text(outcome)}, raw=True)
        else:
            print(as_text(outcome))


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.selfcheck FILE [--lang zh]``: the same check, printed."""
    args = list(sys.argv[1:] if argv is None else argv)
    lang = None
    if "--lang" in args:
        at = args.index("--lang")
        lang = args[at + 1] if at + 1 < len(args) else None
        del args[at:at + 2]
    if len(args) != 1:
        print("usage: python -m grader.selfcheck FILE [--lang en|zh]", file=sys.stderr)
        return 2
    outcome = run_check(args[0], lang=lang)
    with using(lang or default_language()):
        print(as_text(outcome))
    return 0 if outcome.report is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())

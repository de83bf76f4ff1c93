"""graded.ipynb: the submitted notebook with the outputs its cells produced under grading."""

from __future__ import annotations

import base64
import warnings
from typing import Sequence

from grader.grade import Report
from grader.i18n import _
from grader.report.text import checks_table, diagnoses_list, inline, points, saved_line
from grader.trace import CellRun


GRADE_CELL = "grader-grade"  # the id of the first cell, the grade: the kit's own words


def render(report: Report) -> str | None:
    nb = graded_node(report)
    return None if nb is None else write(nb)


def graded_node(report: Report):
    """The graded notebook as an nbformat node (None for a script): written by ``render``, rendered for a
    browser by grader/report/nbhtml.py."""
    if report.notebook is None:
        return None
    return _graded(report.notebook, report.trace.cells, summary(report))


def summary(report: Report) -> str:
    """The first cell of graded.ipynb: the score, each check and what went wrong, in the report's language."""
    out = [f"## {_('Score: {score} / {max}').format(score=points(report.score), max=points(report.max_score))}"
           f" · {report.assignment}", ""]
    if saved_line(report):
        out += [saved_line(report), ""]
    if report.error:
        out += [f"> ⚠️ {inline(report.error)}", ""]
    out += checks_table(report)
    if report.diagnoses:
        out += ["", "### " + _("What went wrong"), ""] + diagnoses_list(report)
    out += ["", _("The cells below show what each cell printed and drew while it was graded.")]
    return "\n".join(out)


def graded_notebook(notebook: str, runs: Sequence[CellRun], first: str | None = None) -> str:
    """The submitted notebook with the outputs each cell produced under grading, as text (see ``_graded``)."""
    return write(_graded(notebook, runs, first))


def write(nb) -> str:
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.writes(nb) + "\n"


def _graded(notebook: str, runs: Sequence[CellRun], first: str | None = None):
    """The submitted notebook with the outputs each cell produced under grading (``runs``: what each
    cell did, from the trace), after a first Markdown cell ``first`` (the grade).  Cells that did not run
    have no outputs and no execution count."""
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = nbformat.reads(notebook, as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    for count, run in enumerate(runs, start=1):
        if not (0 <= run.index < len(nb.cells)) or nb.cells[run.index].get("cell_type") != "code":
            continue
        cell = nb.cells[run.index]
        outputs = []
        if run.stdout:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=run.stdout))
        if run.stderr:
            outputs.append(nbformat.v4.new_output("stream", name="stderr", text=run.stderr))
        for png in run.figures:
            if _is_base64(png):
                outputs.append(nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}))
        if run.result is not None:
            outputs.append(
                nbformat.v4.new_output("execute_result", data={"text/plain": run.result}, execution_count=count)
            )
        if run.error is not None:
            outputs.append(
                nbformat.v4.new_output(
                    "error", ename=run.error_name or "Error", evalue=run.error, traceback=list(run.traceback)
                )
            )
        cell["outputs"] = outputs
        cell["execution_count"] = count
    if first is not None:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(first, id=GRADE_CELL))
    return nb


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True

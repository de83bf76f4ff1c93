"""graded.ipynb: the submitted notebook with the outputs its cells produced under grading."""

from __future__ import annotations

import base64
import warnings
from typing import Sequence

from grader.grade import Report
from grader.trace import CellRun


def render(report: Report) -> str | None:
    if report.notebook is None:
        return None
    return graded_notebook(report.notebook, report.trace.cells)


def graded_notebook(notebook: str, runs: Sequence[CellRun]) -> str:
    """The submitted notebook with the outputs each cell produced under grading (``runs``: what each
    cell did, from the trace).  Cells that did not run have no outputs and no execution count."""
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.writes(nb) + "\n"


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True

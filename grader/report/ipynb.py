"""graded.ipynb: the submitted notebook with the outputs its cells produced under grading."""

from __future__ import annotations

from grader.grade import Report
from grader.notebook import graded_notebook


def render(report: Report) -> str | None:
    if report.notebook is None:
        return None
    return graded_notebook(report.notebook, report.trace.cells)

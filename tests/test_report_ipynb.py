"""grader/report/ipynb.py: graded.ipynb holds the outputs each cell produced under grading, marks the cells
after a failure as not run, and is written only for notebooks."""

from __future__ import annotations

import nbformat
from cases import CASES

from grader.report import write_reports


def test_graded_notebook_holds_what_ran(grading, tmp_path) -> None:
    case = next(c for c in CASES if c.name == "linear_last_cell_raises.ipynb")
    report = grading.report(case)
    paths = write_reports(report, tmp_path)
    nb = nbformat.reads(paths["ipynb"].read_text(encoding="utf-8"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count == i for i, c in enumerate(code, start=1))
    training = next(c for c in code if "l.backward()" in c.source)
    assert training.outputs[0].name == "stdout" and "\tgrad: 1.0 2.0 -2.0\n" in training.outputs[0].text
    plot = next(c for c in code if "plt.plot" in c.source)
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in plot.outputs)
    last = code[-1]
    assert last.outputs[-1].output_type == "error" and last.outputs[-1].ename == "RuntimeError"


def test_graded_notebook_marks_cells_after_a_failure_as_not_run(grading, tmp_path) -> None:
    case = next(c for c in CASES if c.name == "skeleton_linear_nb.ipynb")
    paths = write_reports(grading.report(case), tmp_path)
    code = [c for c in nbformat.reads(paths["ipynb"].read_text(), as_version=4).cells if c.cell_type == "code"]
    failing = next(i for i, c in enumerate(code) if c.outputs and c.outputs[-1].output_type == "error")
    assert all(c.execution_count is None and not c.outputs for c in code[failing + 1:])


def test_scripts_get_no_graded_notebook(grading, tmp_path) -> None:
    case = next(c for c in CASES if c.name == "backprop_linear.py")
    assert "ipynb" not in write_reports(grading.report(case), tmp_path)

"""grader/report/ipynb.py: graded.ipynb holds the outputs each cell produced under grading, marks the cells
after a failure as not run, and is written only for notebooks; whatever the student had saved in the
notebook's outputs is replaced."""

from __future__ import annotations

import base64

import nbformat
from cases import CASES, notebook

from grader.report import write_reports
from grader.report.ipynb import graded_notebook
from grader.trace import CellRun


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


def test_graded_notebook_from_hand_made_cell_runs() -> None:
    source = notebook(["x = 1", "print(x)\nx", "plt.plot([1])"])  # a markdown cell first, then three code cells
    png = base64.b64encode(b"\x89PNG").decode()
    runs = (CellRun(index=1, number=1),
            CellRun(index=2, number=2, stdout="1\n", stderr="careful\n", result="1"),
            CellRun(index=0, number=9, stdout="to a markdown cell: dropped"),
            CellRun(index=7, number=9, stdout="to no cell: dropped"),
            CellRun(index=3, number=3, figures=(png, "not base64!"), error="boom", error_name="ValueError",
                    traceback=("line 1", "ValueError: boom")))
    nb = nbformat.reads(graded_notebook(source, runs), as_version=4)
    nbformat.validate(nb)
    markdown, first, second, third = nb.cells
    assert markdown.cell_type == "markdown" and "outputs" not in markdown
    assert (first.execution_count, first.outputs) == (1, [])
    assert second.execution_count == 2
    assert [(o.output_type, o.get("name")) for o in second.outputs] == [
        ("stream", "stdout"), ("stream", "stderr"), ("execute_result", None)]
    assert second.outputs[2].data == {"text/plain": "1"} and second.outputs[2].execution_count == 2
    assert third.execution_count == 5  # its place among the runs
    assert [o.output_type for o in third.outputs] == ["display_data", "error"]
    assert third.outputs[0].data["image/png"] == png
    assert (third.outputs[1].ename, third.outputs[1].evalue, third.outputs[1].traceback) == (
        "ValueError", "boom", ["line 1", "ValueError: boom"])


def test_outputs_the_student_saved_are_replaced() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('old')", execution_count=7,
                                          outputs=[nbformat.v4.new_output("stream", name="stdout", text="old\n")]),
                nbformat.v4.new_code_cell("y = 2", execution_count=8)]
    graded = nbformat.reads(graded_notebook(nbformat.writes(nb), (CellRun(index=0, number=1, stdout="new\n"),)), 4)
    assert [(c.execution_count, [o.get("text") for o in c.outputs]) for c in graded.cells] == [(1, ["new\n"]), (None, [])]


def test_graded_notebook_opens_with_the_grade_in_the_reports_language(grading, tmp_path) -> None:
    from grader.i18n import using

    case = next(c for c in CASES if c.name == "linear_last_cell_raises.ipynb")
    report = grading.report(case)
    nb = nbformat.reads(write_reports(report, tmp_path / "en")["ipynb"].read_text(encoding="utf-8"), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("## Score: 9 / 10")
    assert "| `runs` | ❌ fail | 0 / 1 |" in first.source and "RuntimeError" in first.source
    with using("zh"):
        nb = nbformat.reads(write_reports(report, tmp_path / "zh")["ipynb"].read_text(encoding="utf-8"), as_version=4)
    assert nb.cells[0].source.startswith("## 得分：9 / 10")


def test_the_figures_are_drawn_large_enough_to_read(grading, tmp_path) -> None:
    import struct

    case = next(c for c in CASES if c.name == "linear_last_cell_raises.ipynb")
    nb = nbformat.reads(write_reports(grading.report(case), tmp_path)["ipynb"].read_text(encoding="utf-8"),
                        as_version=4)
    png = next(base64.b64decode(o.data["image/png"]) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs if o.output_type == "display_data")
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 600 and height >= 450  # 100 dpi for matplotlib's default 6.4 x 4.8 inches

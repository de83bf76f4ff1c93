"""Notebooks: the kit's own are generated from its scripts; student notebooks run cell by cell."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from cases import CASES, ROOT, notebook

from grader.authoring.notebooks import script_to_notebook
from grader.cli import main
from grader.notebook import NotebookProblem, read_notebook, transform_cell
from grader.report import write_reports

SCRIPTS = sorted((ROOT / "assignments").glob("*.py")) + sorted((ROOT / "solutions").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebook_is_up_to_date(script) -> None:
    committed = script.with_suffix(".ipynb")
    assert committed.is_file(), f"{committed} is missing: run `grader notebooks`"
    assert committed.read_text(encoding="utf-8") == script_to_notebook(script.read_text(encoding="utf-8"), script.stem), (
        f"{committed} is out of date with {script.name}: run `grader notebooks`"
    )


def test_generated_notebooks_are_valid_and_explain_in_two_languages() -> None:
    for script in SCRIPTS:
        nb = nbformat.reads(script.with_suffix(".ipynb").read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(nb)
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert re.search(r"[\u4e00-\u9fff]", markdown) and "Training" in markdown
        assert [c.cell_type for c in nb.cells].count("code") >= 4


def test_notebooks_command_writes_and_checks(tmp_path, monkeypatch, capsys) -> None:
    script = tmp_path / "demo.py"
    script.write_text("# %% [markdown]\n# # Title\n\n# %%\nx = 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["notebooks", "--check", str(script)]) == 1
    assert "demo.ipynb is out of date" in capsys.readouterr().err
    assert main(["notebooks", str(script)]) == 0
    assert main(["notebooks", "--check", str(script)]) == 0
    cells = json.loads((tmp_path / "demo.ipynb").read_text())["cells"]
    assert [(c["cell_type"], "".join(c["source"])) for c in cells] == [("markdown", "# Title"), ("code", "x = 1")]


def _normalise(message: str) -> str:
    return re.sub(r"\(line \d+ of [^)]*\)", "(LOCATION)", message)


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_skeleton_notebook_grades_like_the_skeleton_script(name, grading) -> None:
    by_name = {c.name: c for c in CASES}
    script = grading.report(by_name[f"skeleton_{name}.py"])
    nb = grading.report(by_name[f"skeleton_{name}_nb.ipynb"])
    assert [(c.id, c.status, _normalise(c.message)) for c in nb.checks] == [
        (c.id, c.status, _normalise(c.message)) for c in script.checks
    ]
    assert nb.score == script.score == 0


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


@pytest.mark.parametrize(
    "cell, code, skipped, runs",
    [
        ("%matplotlib inline\nx = 1", "pass\nx = 1", ("%matplotlib inline",), True),
        ("for i in range(2):\n    !echo hi\n", "for i in range(2):\n    pass\n", ("!echo hi",), True),
        ("files = !ls -l", "files = []", ("files = !ls -l",), True),
        ("%time y = f(1)", "y = f(1)", (), True),
        ("%%time\nz = 2", "\nz = 2", (), True),
        ("%%bash\nrm -rf /", "", ("%%bash",), False),
        ("torch.tensor?", "pass", ("torch.tensor?",), True),
        ("x = 3 % 2\ns = 'a!b'", "x = 3 % 2\ns = 'a!b'", (), True),
    ],
)
def test_transform_cell(cell, code, skipped, runs) -> None:
    assert transform_cell(cell) == (code, skipped, runs)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"{", "not valid JSON"),
        (b"[1, 2]", "not a Jupyter notebook"),
        (notebook([]).encode(), "no code cells"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_bad_notebooks(data, fragment) -> None:
    with pytest.raises(NotebookProblem, match=fragment):
        read_notebook(data)


def test_a_script_saved_as_ipynb_is_returned_as_text() -> None:
    assert read_notebook(b"import torch\nw = 1\n") == "import torch\nw = 1\n"


def test_nbformat_3_is_read() -> None:
    found = read_notebook(notebook(["w = 1", "%matplotlib inline"], version=3).encode())
    assert [c.source for c in found.cells] == ["w = 1", "pass"]
    assert json.loads(found.notebook)["nbformat"] == 4

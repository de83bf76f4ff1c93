"""grader/notebook.py: a student's notebook read (nbformat 3 and 4, broken ones refused with a reason, a
script saved as .ipynb), its IPython syntax turned into Python, and a notebook graded as its script is."""

from __future__ import annotations

import json
import re

import pytest
from cases import CASES, notebook

from grader.notebook import NotebookProblem, read_notebook, transform_cell


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



@pytest.mark.parametrize("source", [
    'from grader.selfcheck import check\n\ncheck("hw.ipynb")',
    "import grader.selfcheck\ngrader.selfcheck.check('hw.ipynb', lang='zh')",
    "!grader check hw.ipynb",
    "%run -m grader check hw.ipynb",
    "from IPython.display import Markdown, display\ndisplay(Markdown(open('grader-reports/hw/report.md').read()))",
])
def test_a_cell_that_only_checks_is_not_run(source) -> None:
    found = read_notebook(notebook(["x = 1", source]).encode())
    assert [c.checks for c in found.cells] == [False, True] and not found.cells[1].run


@pytest.mark.parametrize("source", [
    "for epoch in range(100):  # compare with grader-reports/hw/report.md\n    l = 1",
    "import torch  # then run grader check hw.ipynb\nw = torch.tensor([1.0])",
    "!grader check hw.ipynb\nw = 1",
    "from grader.selfcheck import check\n!pip install torch\ncheck('hw.ipynb')",
])
def test_a_cell_that_also_does_work_is_run_whatever_it_mentions(source) -> None:
    cell = read_notebook(notebook(["x = 1", source]).encode()).cells[1]
    assert not cell.checks and cell.run

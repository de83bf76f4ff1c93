"""grader/selfcheck.py: a student checks a notebook from its last cell.  The cell grades the saved file
with the kernel's own interpreter and shows the score and what went wrong; the grader never runs it."""

from __future__ import annotations

import json
import shutil

import pytest
from cases import CASES, ROOT

from grader import selfcheck
from grader.i18n import using

SOLUTION_NB = ROOT / "solutions" / "backprop_linear.ipynb"


def mistaken_notebook(folder):
    """The solution notebook with the gradient never reset (its check cell kept)."""
    nb = json.loads(SOLUTION_NB.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        cell["source"] = source.replace("        w.grad.data.zero_()", "        pass")
    path = folder / "backprop_linear.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_the_kits_notebooks_end_with_a_check_cell_the_grader_does_not_run(tmp_path) -> None:
    for name in ("assignments/backprop_linear.ipynb", "assignments/backprop_quadratic.ipynb"):
        cells = json.loads((ROOT / name).read_text(encoding="utf-8"))["cells"]
        assert "".join(cells[-1]["source"]).startswith("from grader.selfcheck import check")
    outcome = selfcheck.run_check(shutil.copy(SOLUTION_NB, tmp_path / "backprop_linear.ipynb"),
                                  out=str(tmp_path / "reports"))
    assert outcome.report["score"] == 10
    assert any("it checks the notebook with the grader" in note for note in outcome.report["notes"])
    assert outcome.report["saved_at"]


def test_the_result_names_the_file_its_save_time_and_what_went_wrong(tmp_path) -> None:
    outcome = selfcheck.run_check(mistaken_notebook(tmp_path), out=str(tmp_path / "reports"))
    text = selfcheck.as_text(outcome)
    assert "Graded backprop_linear.ipynb as saved at" in text and "save (Ctrl+S)" in text
    assert "gradients not reset (grad_not_reset)" in text and "Score: 5 / 10" in text
    html = selfcheck.as_html(outcome)
    assert "gradients not reset" in html and "<code>grad_not_reset</code>" in html
    with using("zh"):
        chinese = selfcheck.run_check(mistaken_notebook(tmp_path), lang="zh", out=str(tmp_path / "zh"))
        said = selfcheck.as_text(chinese)
    assert "梯度没有清零" in said and "得分" in said


def test_no_saved_file_says_to_save_first(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    selfcheck.check(tmp_path / "missing.ipynb")
    printed = capsys.readouterr().out
    assert "There is no file missing.ipynb" in printed and "Save the notebook first" in printed


def test_student_text_is_escaped_in_the_html() -> None:
    report = {"score": 0, "max_score": 10, "error": "<script>alert(1)</script> `<b>code</b>`",
              "checks": [{"id": "forward", "status": "fail", "points": 0, "max_points": 2, "message": "<img src=x>"}],
              "diagnoses": [{"id": "unexplained", "title": "<i>", "message": "`</code><script>`"}]}
    html = selfcheck.as_html(selfcheck.Outcome(SOLUTION_NB, report=report))
    assert "<script>" not in html and "<img" not in html and "<b>code" not in html and "<i>" not in html


def test_a_kernel_runs_the_notebook_and_its_last_cell_shows_the_grade(tmp_path) -> None:
    """As a student does: every cell in a real Jupyter kernel, the last one grading the saved notebook."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import nbformat

    path = mistaken_notebook(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                            ).execute()
    outputs = nb.cells[-1].outputs
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "5 / 10" in html and "gradients not reset" in html, outputs
    assert (tmp_path / "grader-reports" / "backprop_linear" / "report.html").is_file()

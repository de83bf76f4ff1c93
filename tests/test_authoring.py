"""grader/authoring/: the kit's notebooks generated from their scripts (and the `grader notebooks` command),
and the Gradescope bundle.  The translation catalog is tested in test_catalog.py."""

from __future__ import annotations

import io
import json
import re
import zipfile
from contextlib import redirect_stdout

import nbformat
import pytest
from cases import ROOT

from grader.authoring.bundle import make_bundle
from grader.authoring.notebooks import CHECK_NOTE, script_to_notebook
from grader.cli import main


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
    assert [(c["cell_type"], "".join(c["source"])) for c in cells][:2] == [("markdown", "# Title"), ("code", "x = 1")]
    assert "".join(cells[-1]["source"]) == 'from grader.selfcheck import check\n\ncheck("demo.ipynb")'  # the check cell


def test_bundle(tmp_path) -> None:
    target = tmp_path / "bundle.zip"
    with redirect_stdout(io.StringIO()):
        assert main(["gradescope-bundle", "--assignment", "backprop_quadratic", "--out", str(target)]) == 0
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder", "kit/pyproject.toml", "kit/grader/cli.py",
                "kit/grader/specs/backprop_quadratic.toml"} <= set(names)
        run = archive.read("run_autograder").decode()
        assert "--assignment backprop_quadratic" in run and "/autograder}" in run and "$root/results/results.json" in run
        assert archive.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert not any("__pycache__" in n for n in names)


def test_script_to_notebook_reads_the_percent_format() -> None:
    script = "import torch\n\n# %% [markdown]\n# # Title\n#\n# 中文说明\n\n# %%\nw = 1\n\n# %%\n\n# %% cell title\nprint(w)\n"
    text = script_to_notebook(script, "my_demo")
    assert text == script_to_notebook(script, "my_demo")  # deterministic
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert [(c.cell_type, c.source, c.id) for c in nb.cells] == [
        ("code", "import torch", "my-demo-01"), ("markdown", "# Title\n\n中文说明", "my-demo-02"),
        ("code", "w = 1", "my-demo-03"), ("code", "print(w)", "my-demo-05"),  # the empty cell is left out
        ("markdown", CHECK_NOTE, "my-demo-06"), ("code", 'from grader.selfcheck import check\n\ncheck("my_demo.ipynb")', "my-demo-07")]
    assert nb.metadata.kernelspec.name == "python3"


def test_the_bundle_is_the_same_for_the_same_kit(tmp_path) -> None:
    make_bundle("backprop_linear", tmp_path / "one.zip")
    make_bundle("backprop_linear", tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert "--assignment backprop_linear" in archive.read("run_autograder").decode()
        assert archive.getinfo("setup.sh").external_attr >> 16 == 0o755
        assert archive.getinfo("kit/grader/cli.py").external_attr >> 16 == 0o644

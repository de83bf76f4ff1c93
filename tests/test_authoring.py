"""grader/authoring/: the translation catalog (every message translated, placeholders kept, the compiled
.mo up to date), the kit's notebooks generated from their scripts (and the `grader notebooks` command),
and the Gradescope bundle."""

from __future__ import annotations

import io
import json
import re
import string
import zipfile
from contextlib import redirect_stdout

import nbformat
import pytest
from cases import ROOT

from grader.authoring.catalog import compile_mo, extract, po_path, read_po
from grader.authoring.notebooks import script_to_notebook
from grader.cli import main


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_every_message_has_a_chinese_translation() -> None:
    catalog = read_po(po_path("zh"))
    missing = [m for m in extract() if not catalog.get(m)]
    assert not missing, f"messages without a Chinese translation (run python -m grader.authoring.catalog extract): {missing}"


def test_translations_keep_the_placeholders() -> None:
    catalog = read_po(po_path("zh"))
    wrong = {m: t for m, t in catalog.items() if m and t and _fields(m) != _fields(t)}
    assert not wrong


def test_compiled_catalog_is_up_to_date() -> None:
    po = po_path("zh")
    assert po.with_suffix(".mo").read_bytes() == compile_mo(read_po(po)), "run python -m grader.authoring.catalog compile"


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


def test_bundle(tmp_path) -> None:
    target = tmp_path / "bundle.zip"
    with redirect_stdout(io.StringIO()):
        assert main(["gradescope-bundle", "--assignment", "backprop_quadratic", "--out", str(target)]) == 0
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder", "kit/pyproject.toml", "kit/grader/cli.py",
                "kit/grader/specs/backprop_quadratic.toml"} <= set(names)
        run = archive.read("run_autograder").decode()
        assert "--assignment backprop_quadratic" in run and "/autograder/results/results.json" in run
        assert archive.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert not any("__pycache__" in n for n in names)

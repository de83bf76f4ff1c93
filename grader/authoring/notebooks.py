"""The kit's notebooks, made from its scripts: ``assignments/*.ipynb`` and ``solutions/*.ipynb``.

A script in the percent format (``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell written
as comments) is the source; its notebook twin is generated, never edited by hand (``grader notebooks``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

NB_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
_CELL_MARK = re.compile(r"^# %%(?P<markdown>\s*\[markdown\])?.*$")


def script_to_notebook(text: str, stem: str) -> str:
    """A notebook (JSON text) from a script in the percent format: ``# %%`` starts a code cell and
    ``# %% [markdown]`` a markdown cell whose lines are comments.  Deterministic, so a committed notebook
    can be compared with a freshly generated one."""
    import nbformat

    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        mark = _CELL_MARK.match(line)
        if mark:
            blocks.append(("markdown" if mark.group("markdown") else "code", []))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            blocks.append(("code", [line]))
    nb = nbformat.v4.new_notebook(metadata=NB_METADATA)
    for number, (kind, lines) in enumerate(blocks, start=1):
        if kind == "markdown":
            lines = [re.sub(r"^# ?", "", line) for line in lines]
        body = "\n".join(lines).strip("\n")
        if not body.strip():
            continue
        cell_id = f"{stem}-{number:02d}".replace("_", "-")
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(body, id=cell_id))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body, id=cell_id))
    number = len(blocks) + 1
    nb.cells.append(nbformat.v4.new_markdown_cell(CHECK_NOTE, id=f"{stem}-{number:02d}".replace("_", "-")))
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL.format(name=f"{stem}.ipynb"),
                                              id=f"{stem}-{number + 1:02d}".replace("_", "-")))
    return nbformat.writes(nb) + "\n"


# The last cells of every notebook of the kit: check the saved notebook from inside it (grader/selfcheck.py).
# The grader recognises the code cell and never runs it while grading.
CHECK_NOTE = """## Check your work · 检查作业
Save the notebook first (Ctrl+S): the grader reads the saved file, not what the kernel holds. The cell below
grades it and shows the score and what went wrong.

先保存笔记本（Ctrl+S）：评分程序读取的是保存在磁盘上的文件，而不是内核中的状态。运行下面的单元格即可评分，
并显示得分和出错的地方。"""
CHECK_CELL = 'from grader.selfcheck import check\n\ncheck("{name}")'



def stale_notebooks(scripts: Iterable[Path]) -> list[tuple[Path, str]]:
    """The notebook of each script that is missing or differs from what its script makes, with the text
    it should hold, in the order of ``scripts``."""
    stale = []
    for script in scripts:
        text = script_to_notebook(script.read_text(encoding="utf-8"), script.stem)
        target = script.with_suffix(".ipynb")
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            stale.append((target, text))
    return stale

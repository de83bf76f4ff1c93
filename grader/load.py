"""Read the code of one submission and decide which assignment it is (grader/batch.py finds the files).

A submission is a ``.py`` file or an ``.ipynb`` notebook.  The assignment comes from ``--assignment`` when given, else from the file name (a spec's
``filename_hints``), else from the code (the spec whose parameter names the code assigns).

A file that cannot be turned into code (a broken notebook, undecodable bytes) still becomes a Submission,
with ``problem`` saying why: it is reported with a score of 0, never a crash.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grader.errors import UsageError
from grader.i18n import _
from grader.protocol import visible
from grader.notebook import CodeCell, NotebookProblem, NotebookSource, read_notebook
from grader.spec import Spec

SOURCE_SUFFIXES = (".py", ".ipynb")


class SourceProblem(NotebookProblem):
    """The file's bytes are not text the grader can read."""


@dataclass(frozen=True)
class Submission:
    path: Path
    display_name: str  # how messages name the file: its name as the user gave it
    source: str  # decoded text, newlines normalised to \n (for a notebook: its cells' Python, joined)
    assignment: str
    cells: tuple[CodeCell, ...] | None = None  # a notebook's code cells, run one by one
    notebook: str | None = None  # the submitted notebook (nbformat 4 JSON), for graded.ipynb
    problem: str | None = None  # why the file cannot be run, when it cannot
    notes: tuple[str, ...] = ()
    saved: float | None = None  # when the file was last saved (its modification time), for the report


def readable_name(name: str) -> str:
    """A file or folder name as text any report can hold.  Names unpacked from an archive made on Chinese
    Windows reach Python as GBK bytes it could not decode (lone surrogates): their bytes are read as
    UTF-8, else GB18030, else shown as escapes; control characters are escaped too."""
    data = os.fsencode(name)
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("utf-8", "backslashreplace")
    return visible(text).replace("\n", "\\n").replace("\t", "\\t")


def decode_source(data: bytes, path: Path) -> tuple[str, str]:
    """Text of a source file and the encoding that read it: UTF-8 (with or without a BOM), else GB18030
    (Chinese Windows editors)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\n", "\n").replace("\r", "\n"), ("utf-8" if encoding == "utf-8-sig" else encoding)
    raise SourceProblem(_("the file is neither UTF-8 nor GB18030 text, so it cannot be read as Python"))


def assigned_names(source: str) -> set[str]:
    """Names the code assigns anywhere (a regular expression stands in when the code does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set(re.findall(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", source, flags=re.MULTILINE))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def detect_assignment(path: Path, source: str, specs: Sequence[Spec]) -> Spec:
    stem = path.stem.lower()
    by_name = [s for s in specs if s.name in stem]
    if len(by_name) == 1:
        return by_name[0]
    by_hint = [s for s in specs if any(hint.lower() in stem for hint in s.filename_hints)]
    if len(by_hint) == 1:
        return by_hint[0]
    names = assigned_names(source)
    by_code = [s for s in specs if set(s.param_names) <= names]
    if len(by_code) > 1:  # prefer the spec that explains most of what the code defines
        most = max(len(s.param_names) for s in by_code)
        by_code = [s for s in by_code if len(s.param_names) == most]
    if len(by_code) == 1:
        return by_code[0]
    listing = ", ".join(s.name for s in specs)
    if by_code or len(by_hint) > 1:
        why = _("{path}: could be several assignments; name one with --assignment ({listing})")
    else:
        why = _("{path}: matches no assignment; name one with --assignment ({listing})")
    raise UsageError(why.format(path=path, listing=listing))


def load(path: Path, specs: Sequence[Spec], assignment: Spec | None = None) -> Submission:
    try:
        data = path.read_bytes()
        saved = path.stat().st_mtime
    except OSError as exc:
        raise UsageError(_("{path}: cannot read the file: {error}").format(path=path, error=exc.strerror)) from None
    source, problem = "", None
    cells, notebook, notes = None, None, []
    try:
        if path.suffix == ".ipynb":
            found = read_notebook(data)
            if isinstance(found, NotebookSource):
                cells, notebook, source = found.cells, found.notebook, found.code
                notes += skipped_notes(found.cells)
            else:
                source = found.replace("\r\n", "\n")
                notes.append(_("This .ipynb file holds a Python script, not a notebook: it was graded as a script."))
        else:
            source, _encoding = decode_source(data, path)
    except NotebookProblem as exc:
        problem = str(exc)
    try:
        spec = assignment or detect_assignment(path, source, specs)
    except UsageError as exc:
        if problem:
            raise UsageError(_("{path}: {problem}; and without code the assignment is unknown: name it with "
                               "--assignment").format(path=path, problem=problem)) from None
        raise exc
    return Submission(
        path=path,
        display_name=readable_name(str(path)),
        source=source,
        assignment=spec.name,
        cells=cells,
        notebook=notebook,
        problem=problem,
        notes=tuple(notes),
        saved=saved,
    )


def skipped_notes(cells: Sequence[CodeCell]) -> list[str]:
    notes = []
    for cell in cells:
        if cell.checks:
            notes.append(_("Cell {n} was not run: it checks the notebook with the grader, which is what is grading "
                           "it now.").format(n=cell.number))
        elif not cell.run:
            notes.append(_("Cell {n} was not run: `{line}` is not Python.").format(n=cell.number, line=visible(cell.skipped[0], 300)))
        else:
            notes += [_("Cell {n}: `{line}` was not run (IPython syntax; shell commands never run under the "
                        "grader).").format(n=cell.number, line=visible(line, 300)) for line in cell.skipped]
    return notes

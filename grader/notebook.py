"""Student notebooks turned into cells of Python that the child process runs one after another.

How a student notebook runs, and why.  There are two ways: start a Jupyter kernel and send it the cells
(nbclient), or turn the cells into Python and run them in the grader's own child process, one after
another in one namespace.  The kit does the second:
* faster: no kernel to start (ipykernel and zmq add a second or more per notebook) and no extra process
  between the grader and the student's code, so a notebook costs what its script twin costs;
* more faithful *to what is graded*: the cells run in exactly the isolated, time-limited child that runs
  scripts, under the same autograd observation, probes and limits, so a notebook and its script twin get
  the same checks and the same messages.  A kernel would need all of that rebuilt inside it.
What it gives up is IPython's own syntax, handled here line by line: ``%matplotlib inline`` and other line
magics are not executed, ``%time stmt`` runs ``stmt``, cell magics that wrap Python (``%%time``,
``%%capture``) run their body, shell lines (``!pip install``) and shell/other-language cells never run.
Each such line becomes ``pass`` (keeping line numbers and indentation) and the report lists it.
``display()`` and ``get_ipython()`` are provided by the child as harmless stand-ins.  The notebook with
the outputs of the graded run is a report (``grader/report/ipynb.py``).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass

from grader.i18n import _

_RUN_BODY_MAGICS = {"time", "capture", "prun"}  # cell magics whose body is Python the kernel would run
_HELP = re.compile(r"^(\?{1,2}[\w.]+|[\w.]+\?{1,2})$")  # IPython's help syntax: ?name, name??
# A cell that checks the notebook with the grader, or shows what it said: it runs in Jupyter, never while
# grading (there it would grade itself, and its report files are not in the grading folder).
_CHECKS = re.compile(r"^\s*(from\s+grader[\w.]*\s+import|import\s+grader\b)|[!%].*\bgrader\s+check\b|-m\s+grader\b"
                     r"|grader-reports", re.MULTILINE)


def is_check_cell(source: str) -> bool:
    """A cell that only checks the notebook or shows the grader's reports: every statement in it is about
    the grader (imports of grader or IPython.display, a call of check(), a line that names the grader or
    its reports).  A cell that also trains is run, whatever its comments say."""
    if not _CHECKS.search(source):
        return False
    code, skipped, _run = transform_cell(source)
    if any("grader" not in line for line in skipped):
        return False
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names = [statement.module or ""] if isinstance(statement, ast.ImportFrom) else [a.name for a in statement.names]
            if all(n.split(".")[0] in ("grader", "IPython") for n in names):
                continue
            return False
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, (ast.Expr, ast.Assign)) and "grader" in ast.unparse(statement):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) \
                and ast.unparse(statement.value.func) == "check":
            continue
        return False
    return True


class NotebookProblem(Exception):
    """The file cannot be graded as a notebook; the message says why, in plain words."""


@dataclass(frozen=True)
class CodeCell:
    index: int  # position among all the notebook's cells
    number: int  # 1-based position among all its cells, as Jupyter lists them: "cell 3" in messages
    source: str  # Python to run: IPython syntax replaced by `pass`
    skipped: tuple[str, ...] = ()  # the lines that were not run, as written
    run: bool = True  # False for a cell in another language (%%bash, %%html, ...) or a check cell
    checks: bool = False  # a cell that checks the notebook with the grader (not run while grading)


@dataclass(frozen=True)
class NotebookSource:
    notebook: str  # the notebook as nbformat 4 JSON
    cells: tuple[CodeCell, ...]

    @property
    def code(self) -> str:
        """The cells' Python joined, for telling the assignment from the code."""
        return "\n\n".join(cell.source for cell in self.cells if cell.run)


def transform_cell(source: str) -> tuple[str, tuple[str, ...], bool]:
    """Python for one code cell: (code, skipped lines, whether the cell runs at all)."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()[2:].split(maxsplit=1)
        name = magic[0] if magic else ""
        if name not in _RUN_BODY_MAGICS:
            return "", (lines[first].strip(),), False
        skipped = []  # %%time and friends: the body runs, only the timing is lost
        lines[first] = ""
    else:
        skipped = []
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        assigned = re.match(r"^([A-Za-z_]\w*)\s*=\s*([!%].*)$", stripped)
        if assigned:  # files = !ls   or   t = %timeit -o f()
            skipped.append(stripped)
            out.append(f"{indent}{assigned.group(1)} = []")
        elif stripped.startswith("%time ") and not stripped.startswith("%timeit"):
            out.append(indent + stripped[len("%time "):])
        elif stripped.startswith(("!", "%")) or _HELP.match(stripped):
            skipped.append(stripped)
            out.append(f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out), tuple(skipped), True


def read_notebook(data: bytes) -> NotebookSource | str:
    """The code cells of a notebook (nbformat 3 or 4), or the text itself when the file is a Python
    script saved with the .ipynb extension.  Raises NotebookProblem for anything else."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookProblem(
            _("the file is not UTF-8 text (byte {at}), so it is not a notebook Jupyter saved; open it in Jupyter "
              "and save it again").format(at=exc.start)
        ) from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        if _is_python(text):
            return text
        raise NotebookProblem(
            _("the file is not a notebook: it is not valid JSON (line {line}: {error}). Was it saved from "
              "Jupyter?").format(line=getattr(exc, "lineno", "?"), error=getattr(exc, "msg", exc))
        ) from None
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw) or "nbformat" not in raw:
        raise NotebookProblem(_("the file is JSON but not a Jupyter notebook (it has no 'cells' and no 'nbformat')"))
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for broken files
        raise NotebookProblem(
            _("the notebook cannot be read: {error}").format(error=f"{type(exc).__name__}: {exc}")
        ) from None
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        source = str(source).replace("\r\n", "\n")
        if is_check_cell(source):
            cells.append(CodeCell(index=index, number=index + 1, source="", run=False, checks=True))
            continue
        code, skipped, run = transform_cell(source)
        cells.append(CodeCell(index=index, number=index + 1, source=code, skipped=skipped, run=run))
    if not cells:
        raise NotebookProblem(_("the notebook has no code cells: there is nothing to run"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NotebookSource(notebook=nbformat.writes(nb), cells=tuple(cells))


def _is_python(text: str) -> bool:
    try:
        compile(text, "<ipynb>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return bool(text.strip())

"""Report writers: one small module per format, each a function (Report) -> text, or None when the format
does not apply to the report (graded.ipynb for a script).

``WRITERS`` maps a format name to (file name, render function); ``write_reports`` writes the chosen formats
for one submission into its folder, each file atomically.  What several writers show alike is in ``text``;
the class view of a batch (grades.csv and the summaries) is ``gradebook``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional

from grader.grade import Report
from grader.report import classroom, gradescope, html, ipynb, jsonreport, junit, markdown, nbhtml

WRITERS: dict[str, tuple[str, Callable[[Report], Optional[str]]]] = {
    "json": ("report.json", jsonreport.render),
    "md": ("report.md", markdown.render),
    "html": ("report.html", html.render),
    "junit": ("junit.xml", junit.render),
    "gradescope": ("results.json", gradescope.render),
    "classroom": ("classroom.json", classroom.render),
}
# Formats that are not files: `github` prints annotations and appends to $GITHUB_STEP_SUMMARY (cli.py).
STREAM_FORMATS = ("github",)
DEFAULT_FORMATS = ("md", "json", "html")
# Not a format to choose: a notebook submission always gets the notebook that ran, beside its reports,
# and with the html format that notebook rendered for a browser too.
GRADED_NOTEBOOK = ("graded.ipynb", ipynb.render)
GRADED_HTML = ("graded.html", nbhtml.render)


def atomic_write(path: Path, text: str) -> None:
    """Write one file so that readers see the old content or the new one, never a half-written file (see
    ``atomic_write_all``)."""
    atomic_write_all(path.parent, {path.name: text})


def atomic_write_all(folder: Path, files: dict[str, str]) -> None:
    """Write files into one folder so that readers see each one's old content or its new one, never a
    half-written file: each goes to a temporary file, flushed to disk, then all are renamed over their
    targets and the folder is flushed once.  A crash, a Ctrl-C or a power cut leaves each file old or new."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            written.append((tmp, name))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, name in written:
            os.replace(tmp, folder / name)
        _sync_folder(folder)
    except BaseException:
        for tmp, _name in written:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable.  Windows cannot open a folder for this; NTFS journals renames."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_reports(report: Report, folder: Path, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, Path]:
    """Render the chosen formats (and a notebook's graded.ipynb, with html its graded.html) and write them
    together; where each went."""
    texts, written = {}, {}
    formats = list(formats)
    extra = [("ipynb", GRADED_NOTEBOOK)] + ([("graded-html", GRADED_HTML)] if "html" in formats else [])
    for fmt, (filename, render) in [(f, WRITERS[f]) for f in formats] + extra:
        text = render(report)
        if text is not None:
            texts[filename] = text
            written[fmt] = folder / filename
    atomic_write_all(folder, texts)
    return written

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
from grader.report import gradescope, html, ipynb, jsonreport, junit, markdown

WRITERS: dict[str, tuple[str, Callable[[Report], Optional[str]]]] = {
    "json": ("report.json", jsonreport.render),
    "md": ("report.md", markdown.render),
    "html": ("report.html", html.render),
    "junit": ("junit.xml", junit.render),
    "gradescope": ("results.json", gradescope.render),
}
# Formats that are not files: `github` prints annotations and appends to $GITHUB_STEP_SUMMARY (cli.py).
STREAM_FORMATS = ("github",)
DEFAULT_FORMATS = ("md", "json", "html")
# Not a format to choose: a notebook submission always gets the notebook that ran, beside its reports.
GRADED_NOTEBOOK = ("graded.ipynb", ipynb.render)


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new one, never a half-written file: a
    temporary file, flushed to disk, renamed over the target, and the folder flushed too.  A crash, a
    Ctrl-C or a power cut leaves the old file or the new one (about 1 ms per file on an SSD)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _sync_folder(path.parent)
    except BaseException:
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
    written = {}
    for fmt, (filename, render) in [(f, WRITERS[f]) for f in formats] + [("ipynb", GRADED_NOTEBOOK)]:
        text = render(report)
        if text is None:
            continue
        path = folder / filename
        atomic_write(path, text)
        written[fmt] = path
    return written

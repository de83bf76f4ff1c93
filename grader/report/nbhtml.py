"""graded.html: graded.ipynb rendered for a browser by nbconvert, so an instructor sees exactly what ran
without Jupyter.  nbconvert is the library built for this (its "lab" template is what JupyterLab shows).

The page must be inert whatever the student wrote, and open with no network:

* the student's Markdown cells are shown as their source, in a fence (raw HTML or a ``javascript:`` link in
  them never becomes markup; nbconvert's own ``sanitize_html`` garbles every Markdown cell in this
  version); raw cells are left out; outputs are the grader's own (text, PNG figures, tracebacks), which
  nbconvert escapes;
* the template's scripts (MathJax, require.js, from a CDN) are removed, and a Content-Security-Policy
  allows no script and no request: only inline styles and ``data:`` images.
"""

from __future__ import annotations

import html
import re
import warnings

from grader.grade import Report
from grader.i18n import _
from grader.report import ipynb
from grader.report.text import fenced

POLICY = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
          'img-src data:; style-src \'unsafe-inline\'">')
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.DOTALL | re.IGNORECASE)


def render(report: Report) -> str | None:
    nb = ipynb.graded_node(report)
    if nb is None:
        return None
    try:
        return _page(nb)
    except Exception as exc:  # noqa: BLE001 - a page nbconvert cannot make never costs the grade
        said = _("graded.html could not be made ({reason}); graded.ipynb holds the notebook.").format(
            reason=f"{type(exc).__name__}: {exc}"[:500])
        return (f'<!DOCTYPE html><html><head>{POLICY}<meta charset="utf-8"></head><body><p>{html.escape(said)}'
                "</p></body></html>\n")


def _page(nb) -> str:
    from nbconvert import HTMLExporter

    for cell in nb.cells:
        if cell.get("cell_type") == "markdown" and cell.get("id") != ipynb.GRADE_CELL:
            cell["source"] = fenced(cell.get("source", ""))
            cell.pop("attachments", None)
    exporter = HTMLExporter(template_name="lab", exclude_raw=True, embed_images=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body, _resources = exporter.from_notebook_node(nb)
    body = _SCRIPT.sub("", body)
    return re.sub(r"<head>", "<head>\n" + POLICY, body, count=1, flags=re.IGNORECASE)

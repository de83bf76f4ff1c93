"""report.html: one self-contained page (no script, nothing loaded from the network), readable on a phone.

Everything that comes from the student (messages, output, tracebacks, file names) goes through
html.escape; images are embedded as data: URIs.
"""

from __future__ import annotations

import base64
from html import escape

from grader.check import fmt
from grader.diagnose import title as diagnosis_title
from grader.grade import Report
from grader.i18n import _
from grader.report.text import excerpt, first_epoch_rows, html_inline, saved_line, status_label
from grader.report.svgplot import line_chart

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
padding:12px;color:#212529;background:#f8f9fa;line-height:1.45}
main{max-width:880px;margin:auto}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.1em;margin-top:1.4em}
.score{font-size:2em;font-weight:bold}.full{color:#2b8a3e}.part{color:#d9480f}
.banner{background:#fff3bf;border-left:4px solid #f08c00;padding:8px 12px;margin:10px 0}
.diag{background:#fff;border-left:4px solid #d9480f;padding:8px 12px;margin:8px 0}
.diag code.id{font-size:.85em;color:#868e96}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}
td.num{font-family:ui-monospace,monospace;text-align:right;white-space:nowrap}
td.off{background:#ffe3e3;font-weight:bold}
.pass{color:#2b8a3e}.fail{color:#c92a2a}.error{color:#e67700}
pre{background:#fff;border:1px solid #dee2e6;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
img{max-width:100%;height:auto;background:#fff}
footer{color:#868e96;font-size:.85em;margin-top:2em}
.check{background:#fff;border:1px solid #dee2e6;border-left-width:4px;padding:6px 10px;margin:6px 0}
.st-pass{border-left-color:#2b8a3e}.st-fail{border-left-color:#c92a2a}.st-error{border-left-color:#e67700}
.check .head{display:flex;gap:12px;flex-wrap:wrap;align-items:baseline;margin-bottom:2px}
.check .pts{margin-left:auto;font-family:ui-monospace,monospace}
"""

ICONS = {"pass": "✔", "fail": "✘", "error": "⚠"}


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def epoch_losses(report: Report) -> list[float | None]:
    """The student's mean loss per epoch, from the backward passes observed."""
    n = report.spec.samples
    losses = [s.loss for s in report.trace.steps]
    out = []
    for start in range(0, len(losses) - n + 1, n):
        chunk = losses[start:start + n]
        out.append(None if any(v is None for v in chunk) else sum(chunk) / n)
    return out


def loss_chart(report: Report) -> str:
    svg = line_chart(
        [(_("your program"), epoch_losses(report)), (_("reference"), list(report.reference.epoch_costs))],
        title=_("Mean loss per epoch (log scale)"),
        xlabel=_("epoch"),
        ylabel=_("loss"),
    )
    return _data_uri("image/svg+xml", svg.encode("utf-8"))


def render(report: Report) -> str:
    e = escape
    full = report.full_marks
    spec = report.spec
    parts = [
        "<!DOCTYPE html>",
        '<html lang="{}"><head><meta charset="utf-8">'.format(e(_("en"))),
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.submission)} · {e(report.assignment)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<h1>{e(report.title)}</h1>",
        "<p>" + e(_("Submission: {name} · assignment {assignment}").format(
            name=report.submission, assignment=report.assignment)) + "</p>",
        *([f"<p>{e(saved_line(report))}</p>"] if saved_line(report) else []),
        f'<p class="score {"full" if full else "part"}">{report.score:g} / {report.max_score:g}</p>',
    ]
    if report.error:
        parts.append(f'<div class="banner">{html_inline(report.error)}</div>')
    if report.diagnoses:
        parts.append(f"<h2>{e(_('What went wrong'))}</h2>")
        for d in report.diagnoses:
            parts.append(f'<div class="diag"><b>{e(diagnosis_title(d.id))}</b> <code class="id">{e(d.id)}</code><br>'
                         f'{html_inline(d.message)}</div>')
    parts.append(f"<h2>{e(_('Checks'))}</h2>")
    for c in report.checks:
        parts.append(
            f'<div class="check st-{e(c.status)}"><div class="head"><code>{e(c.id)}</code>'
            f'<span class="{e(c.status)}">{ICONS.get(c.status, "")} {e(status_label(c.status))}</span>'
            f'<span class="pts">{c.points:g} / {c.max_points:g}</span></div>'
            f"<div>{html_inline(c.message)}</div></div>"
        )
    # Cells are marked off by the first_epoch_grads tolerance, when the spec grades that check.
    tol = spec.check("first_epoch_grads").tolerance if spec.grades("first_epoch_grads") else None
    parts.append(f"<h2>{e(_('First-epoch gradients'))}</h2><div class=\"scroll\"><table><tr>"
                 f"<th>{e(_('Step'))}</th><th>x</th><th>y</th>")
    for name in spec.param_names:
        parts.append(f"<th>{e(_('{name}.grad (yours)').format(name=name))}</th>"
                     f"<th>{e(_('{name}.grad (expected)').format(name=name))}</th>")
    parts.append("</tr>")
    for row in first_epoch_rows(report):
        parts.append(f'<tr><td class="num">{row["step"]}</td><td class="num">{row["x"]:g}</td>'
                     f'<td class="num">{row["y"]:g}</td>')
        for name in spec.param_names:
            want = float(row["expected"][name])
            got_raw = None if row["observed"] is None else row["observed"][name]
            got = None if got_raw is None else float(got_raw)
            off = " off" if got is None or (tol is not None and not tol.close(got, want)) else ""
            shown = "—" if got is None else fmt(got)
            parts.append(f'<td class="num{off}">{e(shown)}</td><td class="num">{e(fmt(want))}</td>')
        parts.append("</tr>")
    parts.append("</table></div>")
    parts.append(f"<h2>{e(_('Loss per epoch'))}</h2>")
    parts.append(f'<img alt="{e(_("Mean loss per epoch, yours and the reference"))}" src="{loss_chart(report)}">')
    if report.trace.figures:
        parts.append(f"<h2>{e(_('Your figure'))}</h2>")
    for figure in report.trace.figures[:4]:
        data = b""
        if figure.png:
            try:
                data = base64.b64decode(figure.png, validate=True)
            except ValueError:
                data = b""
        if data.startswith(b"\x89PNG"):
            parts.append(f'<img alt="{e(_("Figure drawn by your program"))}" src="{_data_uri("image/png", data)}">')
        elif figure.lines:  # a script's figure: its lines, redrawn from the values it plotted
            svg = line_chart([(line.label if line.label and not line.label.startswith("_") else f"#{i + 1}", list(line.ys))
                              for i, line in enumerate(figure.lines[:4])],
                             title=_("The lines your program plotted (redrawn)"), log=False)
            parts.append(f'<img alt="{e(_("Figure drawn by your program"))}" '
                         f'src="{_data_uri("image/svg+xml", svg.encode("utf-8"))}">')
    trace = report.trace
    if trace.outcome.traceback:
        parts.append(f"<h2>{e(_('Where your program stopped'))}</h2><pre>{e(trace.outcome.traceback)}</pre>")
    if report.notes:
        parts.append(f"<h2>{e(_('Notes'))}</h2><ul>" + "".join(f"<li>{html_inline(n)}</li>" for n in report.notes) + "</ul>")
    for title, text in ((_("Output (stdout)"), trace.stdout), (_("Errors (stderr)"), trace.stderr)):
        if text.strip():
            parts.append(f"<h2>{e(title)}</h2><pre>{e(excerpt(text))}</pre>")
    parts.append(f"<footer>backprop-grader {e(report.kit_version)}</footer></main></body></html>")
    return "\n".join(parts) + "\n"

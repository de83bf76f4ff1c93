"""matplotlib in the child: never blocking, always observed.

``plt.show()`` records the figures instead of opening a window, ``plt.close()`` records them before closing,
and the driver records them after each notebook cell and at the end.  Reading a figure calls student
objects, so it happens here, in student territory, and only plain data reaches the observer.
"""

from __future__ import annotations

import base64
import importlib.abc
import importlib.util
import io
import os
import sys

from grader.child.boundary import CURRENT, Caps, use
from grader.child.values import scalar

REAL_CLOSE: list = [None]  # pyplot's own close, once pyplot is imported
FIGURE_PNG = [False]  # only a graded notebook needs the pictures themselves
PNG_DPI = 100  # 640 x 480 for a default figure: ticks readable in report.html and graded.ipynb


def snapshot(caps: Caps) -> None:
    """Read the figures matplotlib holds (this may call student objects) and hand plain data over."""
    if "matplotlib.pyplot" not in sys.modules:  # no pyplot, no figure
        return
    try:
        from matplotlib._pylab_helpers import Gcf
    except Exception:  # noqa: BLE001 - matplotlib missing or broken: nothing to record
        return
    for manager in Gcf.get_all_fig_managers():
        try:
            figure = manager.canvas.figure
            lines = []
            for axes in figure.axes:
                for line in axes.get_lines():
                    ys = [scalar(float(v)) for v in list(line.get_ydata())[:10000]]
                    lines.append({"label": str(line.get_label())[:200], "ys": ys})
            number, count = int(manager.num), len(figure.axes)
            if not use(caps.figure_changed, number, lines, count):
                continue  # shown before and unchanged: no need to draw it again
            png = None
            if FIGURE_PNG[0]:
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=PNG_DPI)
                png = base64.b64encode(buffer.getvalue()).decode("ascii")
            use(caps.record_figure, number, lines, count, png)
        except Exception as exc:  # noqa: BLE001 - a figure the student broke: say so, keep going
            use(caps.figure_failed, type(exc).__name__)


def close_all() -> None:
    """Close every figure, as the inline backend does once a cell's figures are shown."""
    if REAL_CLOSE[0] is not None:
        try:
            REAL_CLOSE[0]("all")
        except Exception:  # noqa: BLE001
            pass


def patch(plt) -> None:
    """plt.show() records the figures instead of opening a window; plt.close() records them first."""
    if getattr(plt, "_grader_patched", False):
        return
    REAL_CLOSE[0] = real_close = plt.close

    def show(*args, **kwargs):
        caps = CURRENT.get("caps")
        if caps is not None:
            snapshot(caps)

    def close(*args, **kwargs):
        caps = CURRENT.get("caps")
        if caps is not None:
            snapshot(caps)
        return real_close(*args, **kwargs)

    real_switch = plt.switch_backend

    def switch_backend(newbackend, *args, **kwargs):
        return real_switch("Agg")

    plt.show, plt.close, plt.switch_backend, plt._grader_patched = show, close, switch_backend, True


def agg_only() -> None:
    """Any backend a program asks for becomes Agg: no window ever opens, and an interactive backend does not
    go looking at other threads' frames (which the sandbox refuses) to find an event loop."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is None or getattr(matplotlib.use, "_grader_agg", False):
        return
    real_use = matplotlib.use

    def use(backend, *args, **kwargs):
        return real_use("Agg", *args[1:], **{k: v for k, v in kwargs.items() if k != "backend"})

    use._grader_agg = True
    matplotlib.use = use


class PyplotHook(importlib.abc.MetaPathFinder):
    """Patches pyplot when the student's code imports it, so a program without plots never pays for it."""

    def __init__(self) -> None:
        self.busy = False

    def find_spec(self, name, path, target=None):
        if name != "matplotlib.pyplot" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return None
        inner = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                inner.exec_module(module)
                patch(module)

        spec.loader = Loader()
        return spec


def install() -> None:
    os.environ["MPLBACKEND"] = "Agg"
    agg_only()
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        patch(plt)
    else:
        sys.meta_path.insert(0, PyplotHook())


def warm() -> None:
    """Import pyplot and draw one figure, as the warm process does once for all its children: matplotlib
    builds docstrings, loads fonts and renderers on first use."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    patch(plt)
    figure = plt.figure()
    figure.gca().plot([0.0, 1.0], [1.0, 0.0])
    figure.savefig(io.BytesIO(), format="png", dpi=PNG_DPI)
    REAL_CLOSE[0](figure)

"""A small line chart as SVG text (log or linear y axis), so reports need neither matplotlib nor a network."""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

COLORS = ("#d9480f", "#1c7ed6", "#2b8a3e", "#862e9c")


def _nice_step(raw: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log: bool = True,
    width: int = 640,
    height: int = 320,
) -> str:
    left, right, top, bottom = 64, 16, 48, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    usable = [
        v for _, ys in series for v in ys
        if v is not None and math.isfinite(v) and (v > 0 or not log)
    ]
    n = max((len(ys) for _, ys in series), default=0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        out.append(f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>')
    if not usable or n < 1:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>')
        return "".join(out)
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    lo, hi = f(min(usable)), f(max(usable))
    if log:
        lo, hi = math.floor(lo), math.ceil(hi)
    span = hi - lo
    if not math.isfinite(span) or span <= max(abs(lo), abs(hi)) * 1e-9:
        # One value (a constant line), values too close to tell apart at their size, or a range beyond
        # what a float holds: a band around their middle, one decade each way on a log axis.
        middle = lo / 2 + hi / 2
        half = 1.0 if log else max(abs(middle) / 2, 1.0)
        lo, hi = middle - half, middle + half

    def sx(i: float) -> float:
        return left + (plot_w * i / max(n - 1, 1))

    def sy(v: float) -> float:
        return top + plot_h * (1 - (f(v) - lo) / (hi - lo))

    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    ticks = range(int(lo), int(hi) + 1, max(1, int((hi - lo) // 8) or 1)) if log else [lo + (hi - lo) * k / 4 for k in range(5)]
    for t in ticks:
        value = 10.0 ** t if log else t
        y = sy(value)
        label = f"1e{t}" if log else f"{t:.3g}"
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    step = _nice_step((n - 1) / 4) if n > 1 else 1
    i = 0
    while i <= n - 1:
        out.append(f'<text x="{sx(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{i:g}</text>')
        i += step
    if xlabel:
        out.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    if ylabel:
        out.append(f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(ylabel)}</text>')
    for number, (label, ys) in enumerate(series):
        color = COLORS[number % len(COLORS)]
        points, segments = [], []
        for i, v in enumerate(ys):
            if v is None or not math.isfinite(v) or (log and v <= 0):
                if points:
                    segments.append(points)
                points = []
                continue
            clipped = min(max(f(v), lo), hi)
            y = top + plot_h * (1 - (clipped - lo) / (hi - lo))
            points.append(f"{sx(i):.1f},{y:.1f}")
        if points:
            segments.append(points)
        dash = ' stroke-dasharray="6 4"' if number else ""
        for seg in segments:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{" ".join(seg)}"/>')
        lx = left + 190 * number  # the legend: one row above the plot
        out.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{top - 12}" y2="{top - 12}" '
                   f'stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{top - 8}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)

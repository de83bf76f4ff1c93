"""grader/report/svgplot.py: line_chart draws well-formed SVG on a log or a linear axis, breaks a line at
missing values, and says "no data" when there is nothing to draw."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from grader.report.svgplot import line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def polylines(root: ET.Element) -> list[list[tuple[float, float]]]:
    """Each polyline's points, as (x, y) in SVG coordinates (y grows downwards)."""
    return [[tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
            for line in root.iter(f"{SVG}polyline")]


def labels(root: ET.Element) -> list[str]:
    return [text.text for text in root.iter(f"{SVG}text")]


def test_a_log_chart_draws_each_series_with_its_legend_and_decades() -> None:
    root = parse(line_chart([("yours", [100.0, 10.0, 1.0, 0.1]), ("reference", [50.0, 5.0, 0.5, 0.05])],
                            title="Loss", xlabel="epoch", ylabel="loss", width=400, height=200))
    assert (root.get("width"), root.get("height")) == ("400", "200")
    yours, reference = polylines(root)
    assert len(yours) == len(reference) == 4
    xs = [x for x, _ in yours]
    assert xs == sorted(xs) and [x for x, _ in reference] == xs  # one x per index, shared
    ys = [y for _, y in yours]
    assert ys == sorted(ys)  # falling values climb down the page
    steps = [b - a for a, b in zip(ys, ys[1:])]
    assert steps == pytest.approx([steps[0]] * 3, abs=0.2)  # a decade is the same height everywhere
    assert all(r > y for (_, y), (_, r) in zip(yours, reference))  # smaller values lower
    text = labels(root)
    assert {"Loss", "epoch", "loss", "yours", "reference"} <= set(text)
    assert {"1e-2", "1e-1", "1e0", "1e1", "1e2"} <= set(text)
    dashes = [line.get("stroke-dasharray") for line in root.iter(f"{SVG}polyline")]
    assert dashes == [None, "6 4"]  # the second series is dashed, so the two stay apart in grey print


def test_a_linear_chart_keeps_zero_and_negative_values() -> None:
    root = parse(line_chart([("w", [-1.0, 0.0, 1.0])], log=False))
    (line,) = polylines(root)
    assert len(line) == 3
    assert line[0][1] > line[1][1] > line[2][1]
    assert {"-1", "-0.5", "0", "0.5", "1"} <= set(labels(root))


def test_a_log_chart_leaves_out_what_it_cannot_place() -> None:
    root = parse(line_chart([("l", [1.0, 0.0, -1.0, 10.0])]))
    assert [len(line) for line in polylines(root)] == [1, 1]


def test_missing_values_break_the_line() -> None:
    root = parse(line_chart([("l", [1.0, 2.0, None, 4.0, math.nan, 6.0, math.inf, 7.0, 8.0])], log=False))
    assert [len(line) for line in polylines(root)] == [2, 1, 1, 2]


@pytest.mark.parametrize("series", [[], [("empty", [])], [("gaps", [None, math.nan])], [("a", []), ("b", [])]],
                         ids=["no series", "one empty series", "only gaps", "every series empty"])
def test_nothing_to_draw_says_no_data(series) -> None:
    root = parse(line_chart(series, title="Loss"))
    assert polylines(root) == []
    assert labels(root) == ["Loss", "no data"]


def test_an_empty_series_beside_a_full_one_is_only_in_the_legend() -> None:
    root = parse(line_chart([("yours", []), ("reference", [3.0, 2.0, 1.0])]))
    (line,) = polylines(root)
    assert len(line) == 3 and line[0][1] < line[-1][1]
    assert {"yours", "reference"} <= set(labels(root)) and "no data" not in labels(root)


def test_a_flat_series_is_drawn_in_the_middle() -> None:
    root = parse(line_chart([("flat", [2.0, 2.0, 2.0])], log=False, height=300))
    (line,) = polylines(root)
    assert len({y for _, y in line}) == 1
    top, bottom = 48, 300 - 44  # the plot area's edges
    assert line[0][1] == pytest.approx((top + bottom) / 2, abs=0.1)


def test_one_point_and_many_points_get_index_labels() -> None:
    assert "0" in labels(parse(line_chart([("one", [1.0])])))
    text = labels(parse(line_chart([("many", [1.0] * 100)])))
    assert [t for t in text if t.isdigit()] == ["0", "25", "50", "75"]


def test_labels_are_escaped() -> None:
    root = parse(line_chart([("<b>&", [1.0, 2.0])], title='"</svg>', xlabel="x<y", ylabel="a&b"))
    assert {"<b>&", '"</svg>', "x<y", "a&b"} <= set(labels(root))


@pytest.mark.parametrize("ys, log", [([1e20] * 5, False), ([1e20] * 5, True), ([1.7e308, -1.7e308], False),
                                     ([1e-300] * 3, False), ([5e-324, 1e-323], False), ([3.0, 3.0 + 1e-12], False)])
def test_constant_huge_and_tiny_series_are_drawn(ys, log) -> None:
    svg = line_chart([("a", ys)], log=log)
    root = ET.fromstring(svg)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) == 1

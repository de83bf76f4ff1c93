"""What several test files build alike: traces and reports made by hand (no process, no torch), strict
JSON, HTML pages parsed into a tree (and checked well-formed), `grader check` run quietly, and the
lecture-folder guard.

Test files import from here (and from cases.py, the table of end-to-end cases), never from one another.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from contextlib import redirect_stdout
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cases import LECTURE, lecture_available, lecture_required

from grader.check import run_checks
from grader.cli import main
from grader.grade import Report, assemble
from grader.load import Submission
from grader.reference import loss_and_grads, model_and_grads, reference_trace
from grader.spec import Spec, get_spec
from grader.trace import FINISHED, Figure, Outcome, PlotLine, Probe, Trace

LINEAR = get_spec("backprop_linear")
QUADRATIC = get_spec("backprop_quadratic")


# -- traces and reports made by hand ---------------------------------------------------------------------


def probes(spec: Spec, forward=None, loss=None) -> tuple[Probe, ...]:
    """Correct answers at two points, with optional edits of what the student's code returned."""
    out = []
    for params, x, y in (({n: 0.5 for n in spec.param_names}, 1.5, 2.0), ({n: -1.25 for n in spec.param_names}, -2.0, 0.5)):
        value, grads = model_and_grads(spec, params, x)
        out.append(Probe("forward", params, x, None, value, grads, function="forward"))
        value, grads = loss_and_grads(spec, params, x, y)
        out.append(Probe("loss", params, x, y, value, grads, function="loss"))
    if forward:
        out = [forward(p) if p.kind == "forward" else p for p in out]
    if loss:
        out = [loss(p) if p.kind == "loss" else p for p in out]
    return tuple(out)


def perfect(spec: Spec) -> Trace:
    """The trace of a correct program: the reference's steps, right probes, a figure with one point per epoch."""
    ref = reference_trace(spec)
    return Trace(
        steps=ref.steps,
        final_params=dict(ref.final_params),
        prediction=ref.prediction,
        probes=probes(spec),
        figures=(Figure(1, (PlotLine("cost", ref.epoch_costs),)),),
        functions={"forward": "forward", "loss": "loss"},
        roles={name: name for name in spec.param_names},
        outcome=Outcome(FINISHED, seconds=0.05),
    )


def results(spec: Spec, trace: Trace) -> dict:
    """The check results of a trace, by check id."""
    return {c.id: c for c in run_checks(spec, reference_trace(spec), trace)}


def with_grad(trace: Trace, index: int, name: str, value) -> Trace:
    """The trace with one gradient of one step changed."""
    steps = list(trace.steps)
    steps[index] = dataclasses.replace(steps[index], grads={**steps[index].grads, name: value})
    return dataclasses.replace(trace, steps=tuple(steps))


def report_for(spec: Spec, trace: Trace, name: str = "student.py") -> Report:
    """The report of a trace, for a script named ``name`` holding the spec's own source."""
    return assemble(spec, Submission(spec.source, name, "", spec.name), trace)


# -- reading what the writers wrote ----------------------------------------------------------------------


def strict_loads(text: str):
    """json.loads that refuses NaN and Infinity literals."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class Node:
    """An element of a parsed page: its tag, attributes, and children (elements and text, in order)."""

    def __init__(self, tag: str, attrs: dict) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    def text(self) -> str:
        """All the text inside, as a reader sees it (entities decoded), whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join("".join(parts).split())

    def elements(self) -> list["Node"]:
        return [c for c in self.children if isinstance(c, Node)]

    def find_all(self, tag: str) -> list["Node"]:
        """Every element with this tag inside, in document order."""
        found = []
        for child in self.elements():
            if child.tag == tag:
                found.append(child)
            found += child.find_all(tag)
        return found

    def find(self, tag: str) -> "Node":
        (first, *_rest) = self.find_all(tag)
        return first


class Structure(HTMLParser):
    """An HTML page's tags in order, its src/href URLs, nesting errors, and its elements as a tree
    (``root``)."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.urls = [], [], [], []
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(tag)
            self.open.append(node)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with {self.stack[-3:]} open")
        else:
            self.stack.pop()
            self.open.pop()

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse_html(text: str) -> Structure:
    """The page's structure; fails unless every tag is closed in order."""
    parser = Structure()
    parser.feed(text)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return parser


# -- the grader command ----------------------------------------------------------------------------------


def check_quietly(path, out, *options: str, formats: str = "json") -> tuple[int, dict[str, dict]]:
    """`grader check PATH --out OUT --format FORMATS OPTIONS`, quietly: its exit code, and each
    report.json by the name of its folder."""
    with redirect_stdout(io.StringIO()):
        code = main(["check", str(path), *options, "--out", str(out), "--format", formats])
    return code, {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/report.json")}


def status(report: dict, check_id: str) -> str:
    """A check's status in a report.json."""
    return next(c["status"] for c in report["checks"] if c["id"] == check_id)


# -- the lecture folder ----------------------------------------------------------------------------------


def require_lecture() -> None:
    """For tests that read the lecture's own text: skipped where its folder is absent, failed in CI."""
    if lecture_available():
        return
    if lecture_required():
        pytest.fail(f"the lecture folder {LECTURE} is missing, and CI is set: the lecture's text cannot be checked")
    pytest.skip(f"needs the lecture folder {LECTURE} (see GRADER_LECTURE_DIR in tests/cases.py)")

"""Property-based: whatever a submission makes the child send (random and malformed event streams, strings
with lone surrogates, control characters, Markdown, spreadsheet formulas, very long ones), the parent
parses it without raising, and every report writer and the gradebook write valid UTF-8, JSON, CSV, XML and
HTML with no link or image made of it.  Hypothesis draws the cases; a failure shows the smallest."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET

from builders import LINEAR, parse_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from grader import protocol as p
from grader.batch import entry_for
from grader.grade import assemble
from grader.load import Submission, readable_name
from grader.report import WRITERS
from grader.report.github import annotations
from grader.report.gradebook import grades_csv, summary_html, summary_md
from grader.run import Capture
from grader.plan import Point, make_plan
from grader.trace import build_trace, observe

KEY = os.urandom(32)
TRICKS = ["\ud800", "\udfff", "\x00", "\x1b[31m", "\r", "\r\n", "\u202e", "\x85", "[x](http://evil.example)",
          "![](http://evil.example/p.png)", "<script>alert(1)</script>", "https://evil.example", "www.evil.example",
          "=1+2", "@SUM(1,1)", "+3", "-2", "`", "```", "|", "\n# heading", "{x:>99999}", "{0}", "%s", "\\"]
LONG = st.tuples(st.sampled_from(TRICKS), st.integers(100, 3000)).map(lambda t: t[0] * t[1])  # very long
UNTRUSTED = st.lists(st.one_of(st.text(st.characters(), max_size=20), st.sampled_from(TRICKS)), max_size=6).map(
    "".join) | LONG
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.none(),
                   st.sampled_from(["nan", "inf", "-inf"]))
JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), NUMBER, UNTRUSTED),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(UNTRUSTED, inner, max_size=4),
                       max_leaves=12)
SENTENCE = st.fixed_dictionaries({"template": UNTRUSTED, "args": st.dictionaries(UNTRUSTED, st.one_of(UNTRUSTED, NUMBER))})
RENDER_MD = MarkdownIt("gfm-like").render


def event(name: str, **fields):
    return st.fixed_dictionaries({"event": st.just(name), **fields})


POINTS = (Point("forward", {"w": 0.5}, 1.5), Point("loss", {"w": -1.0}, 2.0, 3.0))
LABELS = st.lists(UNTRUSTED, min_size=1, max_size=3)  # slot labels: a dict key of the student's may be any text
WELL_FORMED = st.one_of(
    event("ready", isolation=st.lists(st.sampled_from(p.ISOLATION_LAYERS), max_size=3)),
    LABELS.flatmap(lambda names: event(
        "steps", names=st.just(names),
        rows=st.lists(st.tuples(NUMBER, st.none(), UNTRUSTED | st.none(), st.tuples(*[NUMBER] * len(names)),
                                st.tuples(*[NUMBER] * len(names)))
                      .map(lambda r: [r[0], r[1], r[2], list(r[3]), list(r[4])]), max_size=5))),
    event("steps", names=st.just(["w"]),
          rows=st.lists(st.tuples(NUMBER, st.none(), UNTRUSTED | st.none(), st.tuples(NUMBER), st.tuples(NUMBER))
                        .map(lambda r: [r[0], r[1], r[2], list(r[3]), list(r[4])]), max_size=5)),
    event("note", text=SENTENCE),
    event("outcome", status=st.sampled_from(p.CHILD_ENDINGS), message=UNTRUSTED, exc_type=UNTRUSTED,
          traceback=UNTRUSTED, file=UNTRUSTED, denied=SENTENCE, exit_code=UNTRUSTED),
    LABELS.flatmap(lambda names: event(
        "program", slots=st.just(names), values=st.lists(NUMBER, min_size=len(names), max_size=len(names)),
        leaf=st.lists(st.booleans(), min_size=len(names), max_size=len(names)), kinds=st.just([names]),
        functions=st.lists(st.fixed_dictionaries({"label": UNTRUSTED, "args": st.lists(UNTRUSTED, max_size=2),
                                                  "reads": st.lists(UNTRUSTED, max_size=2), "kind": st.just(0)}),
                           max_size=3))),
    event("program", slots=st.just(["w"]), values=st.tuples(NUMBER).map(list), leaf=st.just([True]),
          kinds=st.just([["w"]]), functions=st.just([{"label": "forward", "args": ["x"], "kind": 0},
                                                     {"label": "loss", "args": ["x", "y"], "kind": 0}])),
    event("probe", index=st.integers(0, 4), grads=st.lists(NUMBER, max_size=2), value=NUMBER, pred_grad=NUMBER,
          error=SENTENCE),
    event("figure", number=st.integers(0, 5),
          lines=st.lists(st.fixed_dictionaries({"label": UNTRUSTED, "ys": st.lists(NUMBER, max_size=120)}), max_size=3)),
    event("done"),
)
ANY_EVENT = WELL_FORMED | st.dictionaries(st.sampled_from(["event", "kind", "rows", "text", "names"]), JSONISH) | JSONISH


def frames(events: list) -> bytes:
    """The events in signed frames, as a child (or a submission that learnt the key) would write them."""
    return b"".join(p.frame(KEY, i, [p.encode(e)]) for i, e in enumerate(events))


def report_of(events: list, stdout: bytes, name: str):
    reader = p.FrameReader(KEY)
    parsed = reader.feed(frames(events)) + reader.close()
    out = Capture()
    out.add(stdout)
    submission = Submission(LINEAR.source, readable_name(name), "", LINEAR.name)
    observed = observe(parsed, LINEAR.max_steps)
    plan = make_plan(LINEAR, submission, observed.kinds, observed.program, POINTS)
    trace = build_trace(observed, LINEAR, plan, outcome=None, stdout=out.text(), stderr=out.text(), seconds=1.0,
                        notes=reader.problems[:3])
    return assemble(LINEAR, submission, trace)


def check_outputs(report) -> None:
    for fmt, (_, render) in WRITERS.items():
        text = render(report)
        text.encode("utf-8")  # strict: no lone surrogate reaches a file
        if fmt in ("json", "gradescope", "classroom"):
            data = json.loads(text)
            markdown = data.get("output", "")
        elif fmt == "junit":
            ET.fromstring(text.encode("utf-8"))
            continue
        elif fmt == "html":
            page = parse_html(text)
            assert "script" not in page.tags and all(url.startswith("data:") for url in page.urls)
            continue
        else:
            markdown = text
        html = RENDER_MD(markdown)
        assert "<a " not in html and "<img" not in html and "<script" not in html, markdown
    for line in annotations(report, report.submission):
        assert "\n" not in line and "\r" not in line and "\x00" not in line


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANY_EVENT, max_size=6), st.binary(max_size=400) | UNTRUSTED.map(lambda t: t.encode("utf-8", "surrogatepass")),
       st.binary(min_size=1, max_size=60) | UNTRUSTED.map(lambda t: t.encode("utf-8", "surrogatepass")[:200]))
def test_any_event_stream_parses_and_every_writer_stays_valid(events, stdout, name) -> None:
    """``name``: the bytes of a file name, as a file system gives them (Python decodes what is not UTF-8 to
    lone surrogates)."""
    name = name.replace(b"/", b"_").replace(b"\0", b"_") or b"x"
    check_outputs(report_of(events, stdout, os.fsdecode(name)))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_raw_bytes_on_the_channel_are_counted_not_read(data) -> None:
    reader = p.FrameReader(KEY)
    assert reader.feed(data) + reader.close() == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(UNTRUSTED.filter(bool), UNTRUSTED), min_size=1, max_size=6))
def test_the_gradebook_stays_valid_and_runs_no_formula(students) -> None:
    entries = []
    for student, message in students:
        report = report_of([{"event": "outcome", "status": "exception", "message": message}, {"event": "done"}],
                           b"", "x.py")
        name = readable_name(os.fsdecode(student.encode("utf-8", "surrogatepass")[:80]))  # as a file name gives it
        entries.append(entry_for(report, name, "folder", "fp"))
    table = grades_csv(entries)
    table.encode("utf-8")
    for row in list(csv.reader(io.StringIO(table)))[1:]:
        assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r")), row
    markdown = summary_md(entries)
    html = RENDER_MD(markdown)
    assert "<a " not in html and "<img" not in html and "<script" not in html
    page = parse_html(summary_html(entries))
    assert "script" not in page.tags


@given(st.text(st.characters(), max_size=50) | st.sampled_from(TRICKS))
def test_visible_text_is_valid_and_shows_every_control(text) -> None:
    shown = p.visible(text)
    shown.encode("utf-8")
    assert not any(ord(c) < 32 and c not in "\n\t" for c in shown)

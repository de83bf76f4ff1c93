"""grader/protocol.py: every message between the processes round-trips, malformed ones are refused with a
reason, and the events channel reads only the frames the grader signed, in sequence."""

from __future__ import annotations

import builtins
import json
import math
import os

import pytest

from grader import protocol as p

KEY = os.urandom(32)

EVENTS = [
    p.Ready(isolation=("limits", "audit", "network")),
    p.Steps(names=("w",), rows=((1.0, 12, "hw.py", (-2.0,), (1.0,)), (0.5, 13, "hw.py", (-1.5,), (1.02,)))),
    p.Steps(names=("w1", "b"), rows=((None, None, None, (None, math.inf), (-math.inf, 0.5)),)),
    p.ExtraSteps(count=150),
    p.Note(text=p.Sentence("The parameter {name} was found under another name.", (("name", "w"),))),
    p.Ended(status="exception", message="boom", exc_type="ValueError", line=3, file="hw.py",
            traceback="Traceback...\n", seconds=0.25,
            denied=p.Sentence("{what} ({detail})", (("what", "start a process"), ("detail", "/bin/sh")))),
    p.Ended(status="timeout", limit=10.0, seconds=10.0),
    p.Ended(status="exit", exit_code="3"),
    p.Program(slots=("w_1", "w[0]", "model.b"), values=(1.99, None, math.inf), leaf=(True, True, False),
              kinds=(("w_1",), ("w[0]", "model.b")),
              functions=(p.Function("forward", ("x",), 0, ("w_1",), 5, 0),
                         p.Function("model.loss", ("y_pred", "y"), 1, (), None, None))),
    p.Program(slots=(), values=(), leaf=()),
    p.ProbeResult(index=0, grads=(-3.0, None), value=1.5625, pred_grad=-1.5),
    p.ProbeResult(index=7, error=p.Sentence("{error}", (("error", "E"),))),
    p.Figure(number=1, lines=(p.PlotLine("cost", (1.0, None, math.nan)),), png="iVBORw0KGgo="),
    p.Cell(index=4, number=2, stdout="out\n", stderr="", result="3", error="boom", error_name="ValueError",
           traceback=("line 1", "line 2"), figures=("iVBORw0KGgo=",)),
    p.Done(),
]


def child_frame(events, sequence=0, key=KEY) -> bytes:
    """A frame as the child writes it: each event encoded by the child's own encoder."""
    return p.frame(key, sequence, [p.encode(p.event_json(e)) for e in events])


def same(a, b) -> bool:
    """Equal, NaN included."""
    return json.dumps(p.plain(a), sort_keys=True) == json.dumps(p.plain(b), sort_keys=True)


def test_every_event_kind_is_covered() -> None:
    assert {type(e) for e in EVENTS} == set(p.EVENT_TYPES.values())


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.KIND)
def test_every_event_round_trips(event) -> None:
    reader = p.FrameReader(KEY)
    (got,) = reader.feed(child_frame([event]))
    assert type(got) is type(event) and same(got, event)
    assert reader.foreign == 0 and reader.problems == []


def test_frames_arrive_in_pieces_and_in_sequence() -> None:
    data = child_frame(EVENTS[:3], 0) + child_frame(EVENTS[3:], 1)
    reader = p.FrameReader(KEY)
    got = []
    for i in range(0, len(data), 7):  # as a pipe may deliver them
        got += reader.feed(data[i:i + 7])
    assert [e.KIND for e in got] == [e.KIND for e in EVENTS] and reader.foreign == 0


def test_a_last_frame_without_its_newline_is_read_at_close() -> None:
    reader = p.FrameReader(KEY)
    assert reader.feed(child_frame([p.Done()]).rstrip(b"\n")) == []
    assert [e.KIND for e in reader.close()] == ["done"]


def test_frames_from_elsewhere_are_counted_not_read() -> None:
    reader = p.FrameReader(KEY)
    assert reader.feed(child_frame([p.Done()], key=os.urandom(32))) == []  # another key
    assert reader.feed(child_frame([p.Done()], sequence=5)) == []  # out of sequence
    assert reader.feed(b"0" * 32 + b' [{"event":"done"}]\n') == []
    assert reader.foreign == 3
    assert [e.KIND for e in reader.feed(child_frame([p.Done()]))] == ["done"]  # the genuine frame 0


@pytest.mark.parametrize(
    "data, reason",
    [
        ([1, 2], "an event is a JSON object, not list"),
        ({"event": "teleport"}, "unknown event kind 'teleport'"),
        ({"kind": "steps"}, "unknown event kind 'None'"),
        ({"event": "steps", "names": [], "rows": [], "speed": 3}, "steps event: unknown field 'speed'"),
        ({"event": "steps", "rows": []}, "steps event: field 'names' is missing"),
        ({"event": "steps", "names": ["w"], "rows": [[1.0, None, None, ["fast"], [1.0]]]},
         "steps event, field 'rows': a number was expected, not str"),
        ({"event": "steps", "names": ["w"], "rows": [[1.0, None, None, {}, [1.0]]]},
         "field 'rows': a step's gradients and values are lists of numbers"),
        ({"event": "steps", "names": ["w"], "rows": [[1.0, 0, None, [1.0], [1.0]]]}, "field 'rows': 0 is below 1"),
        ({"event": "steps", "names": ["w"], "rows": [[1.0, None, [1.0], [1.0]]]}, "a step is a list of five"),
        ({"event": "steps", "names": ["w", "b"], "rows": [[1.0, None, None, [1.0], [1.0]]]},
         "steps event: a step has a gradient and a value for each of the names"),
        ({"event": "extra_steps", "count": True}, "field 'count': a whole number was expected, not bool"),
        ({"event": "outcome", "status": "won"}, "field 'status': 'won' is not one of finished"),
        ({"event": "ready", "isolation": ["limits", "magic"]}, "'magic' is not one of limits"),
        ({"event": "note", "text": "plain"}, "field 'text': a sentence is an object"),
        ({"event": "note", "text": {"template": "{x}", "args": {"x": [1]}}}, "a sentence's argument must be text or a number"),
        ({"event": "probe", "index": -1}, "field 'index': -1 is below 0"),
        ({"event": "probe", "index": 1, "kind": "loss"}, "unknown field 'kind'"),
        ({"event": "probe", "index": 1, "grads": ["x"]}, "field 'grads': a number was expected, not str"),
        ({"event": "program", "slots": ["w"], "values": [], "leaf": [True]}, "each slot has one value and one leaf flag"),
        ({"event": "program", "slots": [], "values": [], "leaf": [], "functions": [{"label": "f", "kind": 2}]},
         "a function names a kind of pass that is not listed"),
        ({"event": "program", "slots": [], "values": [], "leaf": [], "functions": [{"args": []}]},
         "function: field 'label' is missing"),
        ({"event": "program", "slots": ["w"] * 65, "values": [1.0] * 65, "leaf": [True] * 65}, "65 items, at most 64"),
        ({"event": "figure", "number": 1, "lines": [{"label": "a", "ys": 3}]}, "plot line, field 'ys': a list was expected"),
        ({"event": "figure", "number": 1, "png": 7}, "field 'png': a figure is base64 text"),
        ({"event": "cell", "index": 0, "number": 1, "traceback": ["a"] * 201}, "201 items, at most 200 allowed"),
    ],
)
def test_a_malformed_event_is_refused_with_its_reason(data, reason) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(data)
    assert reason in str(info.value)


def test_a_malformed_event_in_a_genuine_frame_is_dropped_and_said() -> None:
    payload = json.dumps([{"event": "done"}, {"event": "steps", "names": "x", "rows": []}]).encode()
    reader = p.FrameReader(KEY)
    got = reader.feed(p.sign(KEY, 0, payload) + b" " + payload + b"\n")
    assert [e.KIND for e in got] == ["done"] and reader.foreign == 0
    assert reader.problems == ["steps event, field 'names': a list was expected, not str"]
    bad = b"[not json"
    assert reader.feed(p.sign(KEY, 1, bad) + b" " + bad + b"\n") == []
    assert reader.problems[-1] == "a frame that is not JSON"


def test_strings_are_bounded_not_refused() -> None:
    event = p.decode_event({"event": "outcome", "status": "exception", "message": "x" * 10_000})
    assert len(event.message) == 2000


def test_the_reader_stops_at_its_cap() -> None:
    reader = p.FrameReader(KEY, cap=100)
    assert reader.feed(child_frame([p.Note(p.Sentence("x" * 200))])) == []
    assert reader.feed(child_frame([p.Done()])) == []


def test_the_encoder_writes_only_json() -> None:
    value = {"a": [1, 2.5, None, True, "é\n\"", (math.nan, math.inf, -math.inf)], 3: "dropped", "o": object()}
    assert json.loads(p.encode(value)) == {"a": [1, 2.5, None, True, "é\n\"", ["nan", "inf", "-inf"]], "o": None}


def test_private_copies_ignore_later_changes() -> None:
    """What the observer keeps: a change to the module or to the functions' code does not reach it."""
    encode, sign = p.private_copy(("encode", "sign"), dict(vars(builtins)))
    real_code, real_sign = p.sign.__code__, p.sign
    before = sign(KEY, 0, b"x")
    try:
        p.sign.__code__ = (lambda key, sequence, payload: b"0" * 32).__code__
        p._escape = lambda text: '"spied"'
        assert sign(KEY, 0, b"x") == before and encode({"k": "v"}) == '{"k":"v"}'
        assert real_sign(KEY, 0, b"x") == b"0" * 32  # the module's own function did change
    finally:
        p.sign.__code__ = real_code
        p._escape = json.encoder.encode_basestring_ascii
    assert p.sign(KEY, 0, b"x") == before


def config(**changes) -> p.ChildConfig:
    values = dict(key="ab" * 32, display_name="hw.py", workdir="/tmp/w", workfile="/tmp/w/hw.py", source="print(1)",
                  parameters=("w1", "w2", "b"), max_steps=1300, time_limit=10.0, bootstrap_path="/opt/kit",
                  cells=(p.CellSource(0, 1, "x = 1"), p.CellSource(2, 2, "%%bash", run=False)), figure_png=True)
    values.update(changes)
    return p.ChildConfig(**values)


def test_the_configuration_round_trips() -> None:
    sent = config()
    assert p.ChildConfig.from_json(sent.to_json()) == sent
    script = config(cells=None, figure_png=False)
    assert p.ChildConfig.from_json(script.to_json()) == script


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda d: d.pop("key"), "field 'key' is missing"),
        (lambda d: d.update(key="zz"), "the key is 64 hexadecimal digits"),
        (lambda d: d.update(spec={}), "unknown field 'spec'"),
        (lambda d: d.update(max_steps=0), "field 'max_steps': 0 is below 1"),
        (lambda d: d.update(probes=[]), "unknown field 'probes'"),  # the hidden points never come at the start
        (lambda d: d.update(functions={"forward": "f"}), "unknown field 'functions'"),
        (lambda d: d.update(memory_mb="lots"), "field 'memory_mb': a whole number was expected"),
    ],
)
def test_a_malformed_configuration_is_refused(edit, reason) -> None:
    data = json.loads(config().to_json())
    edit(data)
    with pytest.raises(p.ProtocolError) as info:
        p.ChildConfig.from_json(json.dumps(data))
    assert reason in str(info.value)


@pytest.mark.parametrize("message", [p.ServerReady(), p.ForkRequest(3), p.Forked(3, 4242), p.Exited(3, -9)],
                         ids=lambda m: m.KIND)
def test_fork_server_messages_round_trip(message) -> None:
    assert p.decode_message(p.encode_message(message)) == message


@pytest.mark.parametrize("data, reason", [(b"{", "not JSON"), (b'{"message": "reboot"}', "unknown fork-server message"),
                                          (b'{"message": "forked", "job": 1}', "field 'pid' is missing")])
def test_a_malformed_fork_server_message_is_refused(data, reason) -> None:
    with pytest.raises(p.ProtocolError, match=reason):
        p.decode_message(data)


def _signed(key: bytes, events: list[dict]) -> list[bytes]:
    """One frame per event, signed in sequence as the child signs them."""
    payloads = [json.dumps([e], separators=(",", ":")).encode() for e in events]
    return [p.sign(key, i, payload) + b" " + payload for i, payload in enumerate(payloads)]


def _read(key: bytes, lines: list[bytes]) -> tuple[list, int]:
    reader = p.FrameReader(key)
    events = reader.feed(b"".join(line + b"\n" for line in lines)) + reader.close()
    return [e.KIND for e in events], reader.foreign


def test_the_channel_accepts_only_what_the_grader_signed() -> None:
    key, other = os.urandom(32), os.urandom(32)
    genuine = _signed(key, [{"event": "ready"}, {"event": "extra_steps", "count": 1}, {"event": "done"}])
    assert _read(key, genuine) == (["ready", "extra_steps", "done"], 0)
    unsigned = b'[{"event":"program","slots":["w"],"values":[2.0],"leaf":[true]}]'
    forged = [genuine[0], unsigned, b"0" * 32 + b" " + unsigned, _signed(other, [{"event": "done"}])[0],
              genuine[0], genuine[1], genuine[2]]  # a line replayed out of sequence is not genuine either
    assert _read(key, forged) == (["ready", "extra_steps", "done"], 4)


def test_probe_calls_travel_as_text_the_child_reads_with_builtins_only() -> None:
    calls = (p.ProbeCall(0, 2, ("x",), (), 1.75, None, None, ((0, 0.125), (1, -1.5), (2, 2.0))),
             p.ProbeCall(1, 0, ("p", "y", "s2", "c0.5"), (("读数", "x"), ("y_val", "y")), -2.5, 6.0, 1e-7, ((2, -3.0),)),
             p.ProbeCall(2, 1, (), (), None, None, None, ()))
    text = p.probe_calls_text(calls)
    read = p.private_copy(("read_probe_calls",), dict(vars(builtins)))[0]
    assert read(text) == [(c.index, c.function, c.args, c.binds, c.x, c.y, c.pred, c.assign) for c in calls]
    for bad in (b"0 1 x - 1.0 - -\n"[:-2] + b"\n", b"0 1 z - 1 - -\n", b"0 1 x a=b 1 - -\n", b"0 1 x - 1 - - w=2\n",
                b"0 1 sx - 1 - -\n", b"\xff", b"\xd9\xa3 1 x - 1 - -\n", b"0 1 x 1+1=x 1 - -\n"):
        with pytest.raises(ValueError):
            read(bad)

"""grader/trace.py: build_trace folds the child's typed events into a Trace: steps past the cap only
counted, values kept only for the spec's parameter names, how the run ended (the child's word, the
parent's, or neither), sentences translated in the parent, notes without repeats."""

from __future__ import annotations

import math

import pytest

from builders import QUADRATIC

from grader import protocol as p
from grader.i18n import using
from grader.load import Submission
from grader.plan import Point, make_plan
from grader.trace import CRASHED, EXCEPTION, EXITED, FINISHED, FOLD, TIMEOUT, Outcome, build_trace, observe, translated

NAMES = ("w1", "w2", "b")
SOURCE = """
def forward(x):
    return w1 * x ** 2 + w2 * x + b

def loss(x, y):
    return (forward(x) - y) ** 2

for x, y in zip(xs, ys):
    l = loss(x, y)
    l.backward()
"""
SUBMISSION = Submission(QUADRATIC.source, "hw.py", SOURCE, QUADRATIC.name)
FUNCTIONS = (p.Function("forward", ("x",), 0, ("w1", "w2", "b"), 2, 0), p.Function("loss", ("x", "y"), 0, ("forward",), 5, 0))
POINTS = (Point("forward", {"w1": 0.5, "w2": -1.0, "b": 2.0}, 3.0), Point("loss", {"w1": 0.5, "w2": -1.0, "b": 2.0}, 1.0, 2.0))


def fold(events, *, outcome=None, notes=(), max_steps=300, points=(), **kwargs):
    """observe, plan and build_trace as a run does, with the quiet defaults of a run that printed nothing."""
    observed = observe(events, max_steps)
    plan = make_plan(QUADRATIC, SUBMISSION, observed.kinds, observed.program, points)
    return build_trace(observed, QUADRATIC, plan, outcome=outcome, stdout=kwargs.get("stdout", ""),
                       stderr=kwargs.get("stderr", ""), seconds=kwargs.get("seconds", 0.0), notes=notes)


def step(loss: float, **grads: float) -> p.Steps:
    """One backward pass with these gradients, every parameter at 1."""
    return p.Steps(names=tuple(grads), rows=((loss, None, None, tuple(grads.values()), (1.0,) * len(grads)),))


def program(values=(2.0, 1.5, 0.5), leaf=(True, True, False), slots=NAMES) -> p.Program:
    return p.Program(slots=slots, values=values, leaf=leaf, kinds=(slots,), functions=FUNCTIONS)


def test_every_event_kind_has_a_decoder() -> None:
    assert set(FOLD) == set(p.EVENT_TYPES.values())


def test_a_whole_run_is_folded() -> None:
    events = [
        p.Ready(isolation=("limits", "audit")),
        p.Steps(names=NAMES, rows=((1.0, 10, "hw.py", (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)),)),
        p.Figure(number=1, lines=(p.PlotLine("cost", (1.0, 0.5)),)),
        p.Cell(index=1, number=1, stdout="hi\n"),
        p.Ended(status=FINISHED, seconds=0.25),
        program(),
        p.ProbeResult(index=0, grads=(9.0, None, None), value=3.5),
        p.Done(),
    ]
    trace = fold(events, stdout="out", stderr="err", seconds=1.5, points=POINTS)
    assert trace.isolation == ("limits", "audit")
    (only,) = trace.steps
    assert (only.loss, dict(only.grads), only.line, only.file) == (1.0, {"w1": 2.0, "w2": 2.0, "b": 2.0}, 10, "hw.py")
    assert trace.figures == (events[2],) and trace.cells == (events[3],)
    (probe,) = trace.probes  # the loss's call was not answered
    assert (probe.kind, probe.x, probe.y, probe.value, probe.error, probe.function) == ("forward", 3.0, None, 3.5, None,
                                                                                       "forward")
    assert dict(probe.grads) == {"w1": 9.0, "w2": None, "b": None}
    assert trace.outcome == Outcome(FINISHED, seconds=0.25)
    assert dict(trace.final_params) == {"w1": 2.0, "w2": 1.5, "b": 0.5}
    assert dict(trace.final_leaf) == {"w1": True, "w2": True, "b": False}
    assert trace.prediction == 2.0 * 16 + 1.5 * 4 + 0.5  # the spec's model at x = 4, not what forward(4) says
    assert dict(trace.functions) == {"forward": "forward"} and dict(trace.roles) == {n: n for n in NAMES}
    assert (trace.stdout, trace.stderr, trace.seconds) == ("out", "err", 1.5)


def test_steps_past_the_cap_are_only_counted() -> None:
    events = [step(float(i), w1=1.0, w2=1.0, b=1.0) for i in range(5)] + [p.ExtraSteps(count=10)]
    trace = fold(events, max_steps=3)
    assert [s.loss for s in trace.steps] == [0.0, 1.0, 2.0]
    assert trace.extra_steps == 2 + 10
    assert trace.backward_count == 15


def test_passes_of_another_kind_are_not_graded_but_said() -> None:
    other = p.Steps(names=("w",), rows=((4.0, 3, "hw.py", (-4.0,), (1.0,)),) * 6)
    mine = p.Steps(names=NAMES, rows=((1.0, 10, "hw.py", (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)),))
    trace = fold([other, mine, p.Ended(status=FINISHED)])
    assert len(trace.steps) == 1 and trace.ignored_steps == 6
    assert "6 backward passes that trained other tensors" in " ".join(trace.notes)


def test_slots_under_other_names_are_graded_as_the_parameters_they_play() -> None:
    # a, b, c hold w2, b and w1: the gradients of x = 2 and x = 3 tell which is which.
    rows = []
    for k, x in enumerate((1.0, 2.0, 3.0)):
        y = 2 * x
        err = 2 * (x * x + x + 1 - y)
        rows.append((err * err / 4, 10, "hw.py", (err * x, err, err * x * x), (1.0, 1.0, 1.0)))
    events = [p.Steps(names=("a", "b", "c"), rows=tuple(rows)), p.Ended(status=FINISHED),
              program(values=(1.5, 0.5, 2.0), leaf=(True, True, True), slots=("a", "b", "c"))]
    trace = fold(events)
    assert dict(trace.roles) == {"a": "w2", "b": "b", "c": "w1"}
    assert dict(trace.steps[1].grads) == {"w1": rows[1][3][2], "w2": rows[1][3][0], "b": rows[1][3][1]}
    assert dict(trace.final_params) == {"w1": 2.0, "w2": 1.5, "b": 0.5}
    assert "`c` plays w1, `a` plays w2." in " ".join(trace.notes)


def test_answers_count_only_for_calls_the_grader_made() -> None:
    events = [p.Steps(names=NAMES, rows=((1.0, 10, "hw.py", (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)),)),
              p.Ended(status=FINISHED), program(), p.ProbeResult(index=99, value=1.0, grads=(1.0, 1.0, 1.0))]
    assert fold(events, points=POINTS).probes == ()
    assert fold(events).probes == ()  # no point drawn, no call made: nothing counts


def test_without_a_program_event_nothing_final_is_known() -> None:
    trace = fold([p.Ended(status=FINISHED)])
    assert dict(trace.final_params) == {"w1": None, "w2": None, "b": None}
    assert trace.final_leaf == {} and trace.prediction is None and dict(trace.functions) == {}


def test_the_parents_outcome_overrides_the_childs() -> None:
    imposed = Outcome(TIMEOUT, "stopped by the parent")
    trace = fold([p.Ended(status=FINISHED, seconds=0.1), p.Done()], outcome=imposed)
    assert trace.outcome is imposed


def test_a_run_that_never_said_how_it_ended_crashed() -> None:
    trace = fold([p.Ready(), step(1.0, w1=2.0)])
    assert trace.outcome.status == CRASHED
    assert trace.outcome.message == "the program stopped without reporting how it ended"
    with using("zh"):
        assert fold([]).outcome.message == "程序停止了，但没有报告结束原因"


def test_a_timeout_says_the_limit() -> None:
    trace = fold([p.Ended(status=TIMEOUT, message="whatever the child wrote", limit=2.5, line=7)])
    assert trace.outcome.status == TIMEOUT and trace.outcome.line == 7
    assert trace.outcome.message == "the time limit is 2.5 s"
    with using("zh"):
        assert fold([p.Ended(status=TIMEOUT, limit=10.0)]).outcome.message == "时间限制为 10 秒"


@pytest.mark.parametrize("code, said", [("3", "sys.exit(3)"), ("'bye'", "sys.exit('bye')"), (None, "sys.exit(?)")])
def test_an_exit_says_sys_exit_and_its_code(code, said) -> None:
    trace = fold([p.Ended(status=EXITED, exit_code=code, message="ignored")])
    assert trace.outcome.status == EXITED
    assert trace.outcome.message == f"the program called {said}"


def test_an_exception_keeps_what_the_child_said() -> None:
    ended = p.Ended(status=EXCEPTION, message="boom", exc_type="ValueError", line=3, file="hw.py",
                    traceback="Traceback ...", seconds=0.5)
    trace = fold([ended])
    assert trace.outcome == Outcome(EXCEPTION, "boom", exc_type="ValueError", line=3, traceback="Traceback ...",
                                    seconds=0.5, file="hw.py")


def test_notes_are_translated_and_said_once() -> None:
    found = p.Note(p.Sentence("Your program set a signal handler; the grader removed it."))
    refused = p.Note(p.Sentence("Your program tried to {what}; that is not allowed while grading.",
                                (("what", "start a process"),)))
    with using("zh"):
        trace = fold([found, refused, found, refused], notes=["from the parent", "from the parent"])
    assert trace.notes == ("from the parent", "你的程序设置了信号处理函数；评分程序已将其移除。", "你的程序尝试创建进程；评分时不允许这样做。")
    english = fold([found, found])
    assert english.notes == ("Your program set a signal handler; the grader removed it.",)


def test_a_note_is_cut_at_500_characters() -> None:
    (note,) = fold([p.Note(p.Sentence("x" * 2000))]).notes
    assert note == "x" * 500


def test_what_the_sandbox_refused_is_translated() -> None:
    denied = p.Sentence("{what} ({detail})", (("what", "start a process"), ("detail", "/bin/sh")))
    ended = p.Ended(status=EXCEPTION, message="not allowed", exc_type="PermissionError", denied=denied)
    assert fold([ended]).outcome.denied == "start a process (/bin/sh)"
    with using("zh"):
        assert fold([ended]).outcome.denied == "创建进程 (/bin/sh)"


def test_translated_translates_a_catalog_phrase_among_the_arguments() -> None:
    sentence = p.Sentence("Your program tried to {what}; that is not allowed while grading.",
                          (("what", "start a process"),))
    with using("zh"):
        assert translated(sentence) == "你的程序尝试创建进程；评分时不允许这样做。"
        assert translated(p.Sentence("{what}", (("what", "not in the catalog"),))) == "not in the catalog"
        assert translated(p.Sentence("it returned {type}, not a number", (("type", "str"),))) == "它返回了 str，而不是一个数"
    assert translated(None) is None
    assert translated(p.Sentence("{count} steps", (("count", 3),))) == "3 steps"
    assert translated(p.Sentence("abcdef"), limit=3) == "abc"


def test_a_template_with_a_missing_argument_is_shown_as_it_came() -> None:
    assert translated(p.Sentence("it returned {type}, not a number")) == "it returned {type}, not a number"


def test_errors_of_the_student_functions_are_translated() -> None:
    error = p.Sentence("Your program tried to {what}; that is not allowed while grading.", (("what", "start a process"),))
    events = [p.Steps(names=NAMES, rows=((1.0, 10, "hw.py", (2.0, 2.0, 2.0), (1.0, 1.0, 1.0)),)),
              p.Ended(status=FINISHED), program(), p.ProbeResult(index=0, error=error)]
    with using("zh"):
        trace = fold(events, points=POINTS)
    assert trace.probes[0].error == "你的程序尝试创建进程；评分时不允许这样做。"

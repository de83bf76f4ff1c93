"""grader/diagnose.py: each detector names its mistake, in English and in Chinese, with the student's line;
the fallback says where the trace departs; every detector in the registry is exercised."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from builders import LINEAR, QUADRATIC, perfect, report_for, results
from cases import CASES, ROOT

from grader import diagnose as diagnose_module
from grader import fromcode
from grader import static
from grader.diagnose import DETECTORS, Context, diagnose
from grader.formula import Formula
from grader.i18n import using
from grader.load import Submission

CJK = re.compile(r"[\u4e00-\u9fff]")
DIAGNOSED = [c for c in CASES if c.diagnoses]


@pytest.mark.parametrize("case", DIAGNOSED, ids=[c.name for c in DIAGNOSED])
def test_diagnosis_in_both_languages(case, grading) -> None:
    report = grading.report(case)
    submission = grading.submissions[case.name]
    english = {d.id: d.message for d in report.diagnoses}
    assert set(case.diagnoses) <= set(english)
    with using("zh"):
        spec = report.spec
        chinese = {d.id: d.message for d in diagnose(spec, report.trace, report.checks, submission)}
    for diagnosis_id in case.diagnoses:
        assert CJK.search(chinese[diagnosis_id]), chinese[diagnosis_id]
        assert not CJK.search(english[diagnosis_id]), english[diagnosis_id]


def test_diagnoses_point_at_the_student_line(grading) -> None:
    by_name = {c.name: c for c in CASES}
    sign = grading.report(by_name["linear_update_sign.py"]).diagnoses[0]
    assert sign.line and "w.data = w.data + 0.01 * w.grad.data" in sign.message
    replaced = grading.report(by_name["linear_param_replaced.py"]).diagnoses[0]
    assert "`w = w - 0.01 * w.grad`" in replaced.message
    lr = next(d for d in grading.report(by_name["linear_lr_changed.py"]).diagnoses if d.id == "learning_rate")
    assert lr.evidence["estimated"] == pytest.approx(0.02, rel=1e-3)
    no_bias = grading.report(by_name["quadratic_missing_bias.py"]).diagnoses[0]
    assert no_bias.id == "model_terms" and "b does not take part in your model" in no_bias.message
    assert "return w1 * x**2 + w2 * x" in no_bias.message


def test_no_usual_mistake_says_so_and_where() -> None:
    trace = perfect(LINEAR)
    steps = list(trace.steps)
    steps[40] = dataclasses.replace(steps[40], grads={"w": steps[40].grads["w"] + 0.5})
    trace = dataclasses.replace(trace, steps=tuple(steps))
    report = report_for(LINEAR, trace, "x.py")
    assert [d.id for d in report.diagnoses] == ["unexplained"]
    assert "step 41 (epoch 14, sample x=2, y=4)" in report.diagnoses[0].message


# -- the registry ----------------------------------------------------------------------------------------


def ids_of(detector) -> set[str]:
    """The diagnosis ids a detector can produce: the first argument of each Diagnosis(...) it builds."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(detector)))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Diagnosis"
            and node.args and isinstance(node.args[0], ast.Constant)}


# Ids that a unit test in this file produces (the end-to-end cases cover the others).
UNIT_TESTED = {"unexplained": test_no_usual_mistake_says_so_and_where}


def test_every_detector_is_registered_once() -> None:
    assert len(set(DETECTORS)) == len(DETECTORS)
    written = [f for module in (diagnose_module, fromcode) for name, f in vars(module).items()
               if inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_")
               and list(inspect.signature(f).parameters) == ["ctx"]]
    assert set(written) - {diagnose_module.unexplained} == set(DETECTORS), "a detector is written but not registered"


def test_every_detector_is_exercised() -> None:
    """Every id a registered detector can produce is what some end-to-end case must be diagnosed with, or
    what a unit test here checks."""
    named_by_cases = {d for case in CASES for d in case.diagnoses or ()}
    for detector in DETECTORS:
        ids = ids_of(detector)
        assert ids, f"{detector.__name__} builds no Diagnosis with a literal id"
        missing = ids - named_by_cases - set(UNIT_TESTED)
        assert not missing, f"{detector.__name__} can say {sorted(missing)}, which no case or unit test checks"
    assert ids_of(diagnose_module.unexplained) == set(UNIT_TESTED)


def test_the_readme_lists_every_diagnosis() -> None:
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("### Diagnoses", 1)[1].split("\n\n", 3)[2]
    listed = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    produced = {i for d in DETECTORS for i in ids_of(d)} | ids_of(diagnose_module.unexplained)
    assert set(listed) == produced


@pytest.mark.parametrize("spec", [LINEAR, QUADRATIC], ids=lambda s: s.name)
@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.__name__)
def test_no_detector_fires_on_a_correct_run(spec, detector) -> None:
    trace = perfect(spec)
    checks = {c.id: c for c in results(spec, trace).values()}
    assert detector(Context(spec, trace, checks, Submission(spec.source, "x.py", "", spec.name))) == []


def test_nothing_is_diagnosed_when_only_a_check_worth_nothing_failed() -> None:
    trace = dataclasses.replace(perfect(LINEAR), figures=())
    report = report_for(LINEAR, trace)
    assert [c.id for c in report.checks if c.status != "pass"] == ["plot"]
    assert report.diagnoses == ()


def test_a_never_reset_gradient_is_diagnosed_from_a_hand_made_trace() -> None:
    """Each step judged at the student's own parameters: a .grad that holds the sum of every gradient so far
    is named without a process."""
    steps, total = [], 0.0
    for s in perfect(LINEAR).steps:
        total += s.grads["w"]
        steps.append(dataclasses.replace(s, grads={"w": total}))
    trace = dataclasses.replace(perfect(LINEAR), steps=tuple(steps))
    found = diagnose(LINEAR, trace, tuple(results(LINEAR, trace).values()),
                     Submission(LINEAR.source, "x.py", "", LINEAR.name))
    reset = next(d for d in found if d.id == "grad_not_reset")  # (the updates, made with the true gradients,
    assert reset.evidence == {"never_reset": ["w"], "reset_per_epoch": []}  # also look like another rate)
    assert "w: the gradient is never reset" in reset.message


def test_tensors_of_a_program_that_never_trained_are_no_extra_term() -> None:
    """Stopped before its first backward(): the tensors it made say nothing of its model."""
    trace = dataclasses.replace(perfect(QUADRATIC), steps=(), slots=("learn_a[0, 0]", "learn_a[0, 1]"), roles={},
                                probes=())
    report = report_for(QUADRATIC, trace, "x.py")
    assert "model_terms" not in [d.id for d in report.diagnoses]


def test_the_students_own_data_are_used_only_when_the_passes_confirm_them() -> None:
    """A program trained on other data that its code lists: the detectors take its samples (so its sums of
    gradients can be read); numbers in the code that the passes do not confirm are never taken."""
    other = dataclasses.replace(QUADRATIC, y=(3.0, 5.0, 7.0))
    trace = perfect(other)
    checks = {c.id: c for c in results(QUADRATIC, trace).values()}

    def context(source: str) -> Context:
        return Context(QUADRATIC, trace, checks, Submission(Path("hw.py"), "hw.py", source, QUADRATIC.name))

    listed = "x_data = [1.0, 2.0, 3.0]\ny_data = [3.0, 5.0, 7.0]\n"
    assert context(listed).data == ((1.0, 2.0, 3.0), (3.0, 5.0, 7.0))
    assert context(listed).sample(4) == (2.0, 5.0)
    unconfirmed = "x_data = [1.0, 2.0, 3.0]\ny_data = [3.0, 5.0, 7.5]\n"
    assert context(unconfirmed).data == (QUADRATIC.x, QUADRATIC.y)
    assert context(listed + "this is not python (").data == (QUADRATIC.x, QUADRATIC.y)


def test_other_data_are_read_through_the_students_own_model() -> None:
    """y = 2x + 1 fitted with a bias the assignment's model lacks: no pass fits the assignment's model, but
    every one fits the model the code's forward returns, on the lists the code gives; a forward that does
    not give the passes' losses confirms nothing."""
    theirs = dataclasses.replace(LINEAR, model=Formula.parse("w * x + b"), parameters=(("w", 1.0), ("b", 0.0)),
                                 y=(3.0, 5.0, 7.0))
    steps = tuple(dataclasses.replace(s, params={"w": s.params["w"]}, grads={"w": s.grads["w"]}, slots=dict(s.params))
                  for s in perfect(theirs).steps)
    trace = dataclasses.replace(perfect(theirs), steps=steps, roles={"w": "w"}, slots=("w", "b"))
    checks = {c.id: c for c in results(LINEAR, trace).values()}

    def context(forward: str) -> Context:
        source = f"x_data = [1.0, 2.0, 3.0]\ny_data = [3.0, 5.0, 7.0]\ndef forward(x):\n    return {forward}\n"
        return Context(LINEAR, trace, checks, Submission(Path("hw.py"), "hw.py", source, LINEAR.name))

    assert context("w * x + b").data == ((1.0, 2.0, 3.0), (3.0, 5.0, 7.0))
    found = diagnose_module.data(context("x * w + b"))
    assert [d.id for d in found] == ["data"] and "x = [1, 2, 3], y = [3, 5, 7]" in found[0].message
    assert context("w * x - b").data == (LINEAR.x, LINEAR.y)
    assert context("w * x").data == (LINEAR.x, LINEAR.y)


def test_the_terms_of_the_codes_model_are_matched_by_what_they_do() -> None:
    """Names do not matter: ``x * x * w_2`` plays w1; a missing bias and an extra name are both found."""
    def roles(source: str):
        model, = static.forward_models(static.parse([("hw.py", source)]), "forward")
        return fromcode.code_roles(QUADRATIC, model, {})

    assert roles("def forward(x):\n    return x * x * w_2 + x * w_1\n") == ({"w_2": "w1", "w_1": "w2"}, ["b"], [])
    assert roles("def forward(v):\n    return a * v**2 + c * v + d\n") == ({"a": "w1", "c": "w2", "d": "b"}, [], [])
    assert roles("def forward(x):\n    return w1 * x**2 + w2 * x + b + c * x**3\n")[1:] == ([], ["c"])



def test_a_small_rate_is_read_through_float32_rounding() -> None:
    """lr 0.0001 near 1.0: a float32 parameter moves by whole steps of its spacing, so the steps of small
    gradients read as other rates; those are left out, and the rate is named, not 'not updated'."""
    theirs = dataclasses.replace(QUADRATIC, learning_rate=0.0001, parameters=(("w1", 1.0), ("w2", -4.0), ("b", 5.0)),
                                 x=(1.0, 2.0, 3.0, 4.0), y=(2.0, 4.0, 0.0, 6.0))
    trace = perfect(theirs)
    found = diagnose_module.learning_rate_and_sign(
        Context(QUADRATIC, trace, {c.id: c for c in results(QUADRATIC, trace).values()},
                Submission(Path("hw.py"), "hw.py", "", QUADRATIC.name)))
    assert [d.id for d in found] == ["learning_rate"]
    assert abs(found[0].evidence["estimated"] - 0.0001) < 1e-6

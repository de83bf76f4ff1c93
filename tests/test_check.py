"""grader/check.py: every check on hand-made traces (pure: no process, no torch): what passes, what
fails or is an error, and the step and quantity a message names."""

from __future__ import annotations

import dataclasses
import math

import pytest
from builders import LINEAR, QUADRATIC, perfect, probes, report_for, results, with_grad

from grader.trace import EXCEPTION, FINISHED, TIMEOUT, Figure, Outcome, PlotLine, Probe


@pytest.mark.parametrize("spec", [LINEAR, QUADRATIC], ids=lambda s: s.name)
def test_perfect_trace_gets_full_marks(spec) -> None:
    report = report_for(spec, perfect(spec), "x.py")
    assert [c.status for c in report.checks] == ["pass"] * len(report.checks)
    assert report.score == report.max_score == 10
    assert report.full_marks


def test_a_gradient_off_by_more_than_the_tolerance_names_its_step() -> None:
    trace = with_grad(perfect(LINEAR), 1, "w", -7.84 * 1.001)
    checks = results(LINEAR, trace)
    assert checks["first_epoch_grads"].status == "fail"
    assert checks["first_epoch_grads"].step == 1
    assert "step 2 (epoch 1, sample x=2, y=4): w.grad is -7.84784, expected -7.84" in checks["first_epoch_grads"].message
    assert checks["training"].status == "pass"  # 0.1% is within training's looser rtol=1e-3


def test_rounding_noise_is_within_tolerance() -> None:
    trace = with_grad(perfect(LINEAR), 2, "w", -16.228801727294922 * (1 + 2e-7))
    assert results(LINEAR, trace)["first_epoch_grads"].status == "pass"


def test_training_names_the_first_departing_step_and_quantity() -> None:
    trace = perfect(QUADRATIC)
    steps = list(trace.steps)
    steps[150] = dataclasses.replace(steps[150], loss=steps[150].loss * 2)
    check = results(QUADRATIC, dataclasses.replace(trace, steps=tuple(steps)))["training"]
    assert check.status == "fail" and check.step == 150
    assert check.message.startswith("step 151 (epoch 51, sample x=1, y=2): the loss is")


def test_a_missing_gradient_is_reported_as_empty() -> None:
    check = results(LINEAR, with_grad(perfect(LINEAR), 1, "w", None))["first_epoch_grads"]
    assert check.status == "fail" and "w.grad was empty" in check.message


def test_nan_fails_without_crashing() -> None:
    trace = with_grad(perfect(LINEAR), 0, "w", math.nan)
    trace = dataclasses.replace(trace, prediction=math.nan)
    checks = results(LINEAR, trace)
    assert checks["first_epoch_grads"].status == "fail"
    assert checks["final_prediction"].status == "fail" and "nan" in checks["final_prediction"].message


@pytest.mark.parametrize(
    "count, status, outcome, fragment",
    [
        (299, "fail", Outcome(FINISHED), "Only 299 of the 300"),
        (120, "error", Outcome(TIMEOUT, "stopped", line=7), "ran too long and was stopped (line 7)"),
        (0, "fail", Outcome(FINISHED), "No training step was observed"),
    ],
)
def test_too_few_steps(count, status, outcome, fragment) -> None:
    trace = perfect(LINEAR)
    trace = dataclasses.replace(trace, steps=trace.steps[:count], outcome=outcome)
    check = results(LINEAR, trace)["training"]
    assert check.status == status and fragment in check.message


def test_too_many_steps_counts_the_ones_past_the_cap() -> None:
    trace = dataclasses.replace(perfect(LINEAR), extra_steps=150)
    check = results(LINEAR, trace)["training"]
    assert check.status == "fail" and "450 backward passes ran, expected 300" in check.message


def test_probes_catch_a_wrong_value_an_unconnected_parameter_and_a_stub() -> None:
    wrong_value = probes(LINEAR, forward=lambda p: dataclasses.replace(p, value=p.value + 1))
    assert "returned" in results(LINEAR, dataclasses.replace(perfect(LINEAR), probes=wrong_value))["forward"].message
    no_grad = probes(LINEAR, loss=lambda p: dataclasses.replace(p, grads={"w": None}))
    check = results(LINEAR, dataclasses.replace(perfect(LINEAR), probes=no_grad))["loss"]
    assert check.status == "fail" and "left w.grad empty" in check.message
    stub = probes(LINEAR, forward=lambda p: dataclasses.replace(p, value=None, error="NotImplementedError: TODO 1"))
    check = results(LINEAR, dataclasses.replace(perfect(LINEAR), probes=stub))["forward"]
    assert check.status == "fail" and "not written yet" in check.message
    swapped = probes(QUADRATIC, forward=lambda p: dataclasses.replace(p, grads={**p.grads, "w1": p.grads["w2"]}))
    check = results(QUADRATIC, dataclasses.replace(perfect(QUADRATIC), probes=swapped))["forward"]
    assert check.status == "fail" and "w1.grad is" in check.message


def test_a_function_the_grader_could_not_call_is_judged_from_the_training() -> None:
    why = {"forward": "no function of yours was found that the training calls for it"}
    trace = dataclasses.replace(perfect(LINEAR), probes=tuple(p for p in perfect(LINEAR).probes if p.kind == "loss"),
                                unprobed=why)
    check = results(LINEAR, trace)["forward"]
    assert check.status == "pass" and "judged from your training" in check.message and why["forward"] in check.message
    wrong = with_grad(trace, 1, "w", 99.0)  # the second step's gradient is not the model's
    assert results(LINEAR, wrong)["forward"].status == "fail"
    untrained = dataclasses.replace(trace, steps=(), outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError"))
    check = results(LINEAR, untrained)["forward"]
    assert check.status == "error" and check.points == 0 and "could not be tried" in check.message


def test_a_loss_written_as_loss_of_the_prediction_is_checked_on_the_prediction() -> None:
    pred_probes = (Probe("loss", {"w": 0.5}, 1.5, 2.0, 0.5625, {"y_pred": -1.5}, function="loss",
                         shown="loss(y_pred, y)", pred=1.25),)
    trace = dataclasses.replace(perfect(LINEAR), probes=tuple(p for p in perfect(LINEAR).probes if p.kind == "forward")
                                + pred_probes)
    check = results(LINEAR, trace)["loss"]
    assert check.status == "pass", check.message
    halved = (dataclasses.replace(pred_probes[0], value=0.28125, grads={"y_pred": -0.75}),)
    check = results(LINEAR, dataclasses.replace(trace, probes=halved))["loss"]
    assert check.status == "fail" and "loss(y_pred=1.25, y=2) returned 0.28125, expected 0.5625" in check.message


def test_final_prediction_needs_training() -> None:
    trace = perfect(LINEAR)
    assert results(LINEAR, dataclasses.replace(trace, steps=()))["final_prediction"].status == "fail"
    frozen = tuple(dataclasses.replace(s, params={"w": 1.0}) for s in trace.steps)
    still = dataclasses.replace(trace, steps=frozen, final_params={"w": 1.0})
    check = results(LINEAR, still)["final_prediction"]
    assert check.status == "fail" and "never changed" in check.message
    off = results(LINEAR, dataclasses.replace(trace, prediction=7.9))["final_prediction"]
    assert off.status == "fail" and "expected 7.999999" in off.message
    broken = results(LINEAR, dataclasses.replace(trace, prediction=None))
    assert broken["final_prediction"].status == "error"


def test_plot_counts_one_point_per_epoch_and_is_worth_nothing_by_default() -> None:
    trace = perfect(LINEAR)
    short = dataclasses.replace(trace, figures=(Figure(1, (PlotLine("", (1.0, 2.0, 3.0)),)),))
    check = results(LINEAR, short)["plot"]
    assert check.status == "fail" and "3 points" in check.message and check.max_points == 0
    none = results(LINEAR, dataclasses.replace(trace, figures=()))["plot"]
    assert none.status == "fail" and "No figure" in none.message


def test_runs_fails_when_the_program_raised() -> None:
    trace = dataclasses.replace(perfect(LINEAR), outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError", line=3))
    report = report_for(LINEAR, trace, "x.py")
    assert report.score == 9 and not report.full_marks
    assert report.error == "Your program stopped with ValueError (line 3): boom."


def test_a_plot_of_a_diverged_cost_says_it_is_not_finite() -> None:
    trace = perfect(LINEAR)
    values = tuple([1.0] * 98 + [math.inf, math.nan])
    diverged = dataclasses.replace(trace, figures=(Figure(1, (PlotLine("", values),)),))
    check = results(LINEAR, diverged)["plot"]
    assert check.status == "fail" and "not finite" in check.message and "100 points" in check.message

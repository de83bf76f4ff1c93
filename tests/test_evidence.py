"""grader/evidence.py: what the passes alone say: the sample of a pass, and the passes an epoch takes."""

from __future__ import annotations

from grader.evidence import one_sample_x, samples_per_epoch
from grader.reference import loss_and_grads
from grader.spec import get_spec
from grader.trace import Step

LINEAR, QUADRATIC = get_spec("backprop_linear"), get_spec("backprop_quadratic")


def passes(spec, xs, ys, start, epochs, lr=0.01):
    params, steps = dict(start), []
    for _epoch in range(epochs):
        for x, y in zip(xs, ys):
            loss, grads = loss_and_grads(spec, params, x, y)
            steps.append(Step(loss=loss, grads=grads, params=dict(params)))
            params = {n: params[n] - lr * grads[n] for n in params}
    return steps


def test_the_sample_of_a_pass_is_read_from_its_gradients() -> None:
    step = passes(QUADRATIC, [2.5], [1.0], {"w1": 0.3, "w2": -0.2, "b": 0.7}, 1)[0]
    assert abs(one_sample_x(QUADRATIC, step) - 2.5) < 1e-3
    batch = Step(loss=1.0, grads={"w1": 14.0 + 1.0, "w2": 6.0 + 1.0, "b": 2.0 + 1.0}, params={"w1": 1.0, "w2": 1.0, "b": 1.0})
    assert one_sample_x(QUADRATIC, batch) is False  # no single x makes (x**2, x, 1) point that way
    assert one_sample_x(LINEAR, passes(LINEAR, [2.0], [4.0], {"w": 1.0}, 1)[0]) is None  # one parameter tells nothing


def test_an_epoch_is_as_many_passes_as_the_samples_whatever_the_data() -> None:
    assert samples_per_epoch(LINEAR, passes(LINEAR, [1.0, 2.0, 3.0], [2.0, 4.0, 6.0], {"w": 1.0}, 20)) == 3
    nine = [float(k) for k in range(1, 10)]
    # The loss reaches 0 within the second epoch: the last sample is never seen again, and still it counts.
    assert samples_per_epoch(LINEAR, passes(LINEAR, nine, [2 * x for x in nine], {"w": 1.0}, 20)) == 9
    xs = [1.0, 2.0, 3.0, 4.0]
    assert samples_per_epoch(QUADRATIC, passes(QUADRATIC, xs, [2 * x for x in xs], {"w1": 1.0, "w2": 1.0, "b": 1.0}, 10)) == 4


def test_passes_that_never_repeat_have_no_epoch() -> None:
    steps = passes(LINEAR, [float(k) for k in range(1, 200)], [1.0] * 199, {"w": 0.0}, 1, lr=1e-6)
    assert samples_per_epoch(LINEAR, steps) is None

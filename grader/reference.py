"""The reference trace: what a correct submission's autograd computes, derived from the spec alone.

It replays the lecture's training loop (per-sample updates ``p = p - lr * grad`` in data order) in numpy
float32 with grader/formula.py, so it matches torch's float32 numbers without running torch or any
solution file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np

from grader.spec import Spec
from grader.trace import Step

F32 = np.float32


@dataclass(frozen=True)
class Reference:
    steps: tuple[Step, ...]
    final_params: Mapping[str, float]
    prediction: float
    epoch_costs: tuple[float, ...]  # mean loss over the samples of each epoch, as the lecture plots it


def model_and_grads(spec: Spec, params: Mapping[str, float], x: float) -> tuple[float, dict[str, float]]:
    value, grads = spec.model.evaluate({**params, "x": x}, wrt=spec.param_names)
    return float(value), {k: float(v) for k, v in grads.items()}


def loss_and_grads(spec: Spec, params: Mapping[str, float], x: float, y: float) -> tuple[float, dict[str, float]]:
    """The loss of one sample and its gradient with respect to each parameter, by the chain rule through
    y_pred, rounding where torch's autograd rounds."""
    env = {**params, "x": x}
    y_pred = spec.model.value(env)
    loss, outer = spec.loss.evaluate({"y_pred": y_pred, "y": y}, wrt=("y_pred",))
    _, grads = spec.model.evaluate(env, wrt=spec.param_names, seed=outer["y_pred"])
    return float(loss), {k: float(v) for k, v in grads.items()}


def expected_call(spec: Spec, kind: str, params: Mapping[str, float], x: float, y: float | None,
                  pred: float | None = None) -> tuple[float, dict[str, float]]:
    """What the spec says a hidden call returns and the gradients it leaves: forward(x); loss(x, y); or,
    for a loss written as loss(y_pred, y), the loss of ``pred`` and its gradient with respect to it."""
    if kind == "forward":
        return model_and_grads(spec, params, x)
    if pred is not None:
        value, grads = spec.loss.evaluate({"y_pred": pred, "y": y or 0.0}, wrt=("y_pred",))
        return float(value), {"y_pred": float(grads["y_pred"])}
    return loss_and_grads(spec, params, x, y or 0.0)


@lru_cache(maxsize=None)
def reference_trace(spec: Spec) -> Reference:
    params = {name: F32(value) for name, value in spec.parameters}
    lr = F32(spec.learning_rate)
    steps: list[Step] = []
    costs: list[float] = []
    with np.errstate(all="ignore"):
        for _ in range(spec.epochs):
            cost = 0.0
            for x, y in zip(spec.x, spec.y):
                loss, grads = loss_and_grads(spec, params, x, y)
                steps.append(Step(loss=loss, grads=grads, params={k: float(v) for k, v in params.items()}))
                cost += loss
                params = {k: F32(v - lr * F32(grads[k])) for k, v in params.items()}
            costs.append(cost / spec.samples)
        prediction = float(spec.model.value({**params, "x": spec.probe_x}))
    return Reference(
        steps=tuple(steps),
        final_params={k: float(v) for k, v in params.items()},
        prediction=prediction,
        epoch_costs=tuple(costs),
    )

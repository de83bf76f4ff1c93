"""What the backward passes alone say of the student's training (pure functions; numpy, no torch): which
sample a pass was, and how many passes an epoch takes.  The diagnoses (grader/diagnose.py) rest on them, so
a program with other data or other names is still read right.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from grader.spec import Spec
from grader.trace import Step


def complete(step: Step, names: Sequence[str]) -> bool:
    return all(step.params.get(n) is not None for n in names)


GRID = np.linspace(-20.0, 20.0, 40_001)  # the inputs a sample's x is looked for among
ALIGNED = 1 - 1e-6  # cosine between a pass's gradients and the model's derivatives at one x


def one_sample_x(spec: Spec, step: Step) -> float | bool | None:
    """The x of the one sample whose pass this is, read from the gradients alone: the gradient of one
    sample's loss is the model's derivatives at its x times one factor, so it points along them (x**2, x, 1
    for the quadratic).  False when no x fits (the pass is not one sample's: a batch); None when the pass
    cannot tell (fewer than two parameters with a gradient, or the gradients all zero)."""
    names = [n for n in spec.param_names if step.grads.get(n) is not None and step.params.get(n) is not None]
    if len(names) < 2:
        return None
    g = np.array([step.grads[n] for n in names], dtype=float)
    size = np.linalg.norm(g)
    if not np.isfinite(size) or size < 1e-9:
        return None
    params = {n: step.params.get(n) if n in names else 0.0 for n in spec.param_names}  # a term left out is 0
    _, derivatives = spec.model.evaluate({**params, "x": GRID}, wrt=tuple(names))
    features = np.array([np.broadcast_to(np.asarray(derivatives[n], dtype=float), GRID.shape) for n in names])
    norms = np.linalg.norm(features, axis=0)
    cosine = np.abs(g @ features) / np.where(norms > 0, norms * size, np.inf)
    best = int(np.argmax(cosine))
    return float(GRID[best]) if cosine[best] >= ALIGNED else False


def signature(spec: Spec, step: Step) -> float | None:
    """What a pass says of its sample, for telling how many samples an epoch has: its x, or for a model of
    one parameter, grad**2 / loss (4 x**2 for a squared loss)."""
    if len(spec.param_names) > 1:
        x = one_sample_x(spec, step)
        return x if isinstance(x, float) else None
    name = spec.param_names[0]
    g = step.grads.get(name)
    if g is None or step.loss is None or not step.loss > 1e-12:
        return None
    return g * g / step.loss


def samples_per_epoch(spec: Spec, steps: Sequence[Step], most: int = 32) -> int | None:
    """How many passes an epoch of the student's training takes, read from the passes themselves: per-sample
    training meets the same samples again each epoch.  None when the passes do not repeat (or too few)."""
    signatures = [signature(spec, s) for s in steps[: 4 * most]]
    for period in range(1, most + 1):
        pairs = [(k, a, b) for k, (a, b) in enumerate(zip(signatures, signatures[period:period * 4]))
                 if a is not None and b is not None]
        # Every sample of the epoch compared with itself an epoch later; once training has converged a pass
        # may tell nothing (a zero loss), so one sample of the epoch may go unseen.
        seen = len({k % period for k, _a, _b in pairs})
        if len(pairs) >= 2 and seen >= (period - 1 if period >= 3 else period) \
                and all(abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1e-3) for _k, a, b in pairs):
            return period
    return None

"""Which of the student's slots plays which of the spec's parameters, judged by what each does in the model,
not by its name (pure functions; no torch).

The child reports every backward pass as *slots*: the elements of the tensors the pass trained, each with a
label (``w_1``, ``W[2]``, ``model.bias``, or the spec's own name).  Two kinds of evidence tell the roles:

* **the spec's gradients**: at a pass, with the slots' values read as the parameters they would play, the
  gradients autograd left must be the spec's loss gradients for that pass's sample.  Only the right
  assignment makes that hold pass after pass, whatever the learning rate or the starting values;
* **the model's derivatives** (when the data or the loss differ from the spec's): the gradient of any loss
  of one sample is the loss's derivative with respect to the prediction times the model's derivative with
  respect to each parameter, so the slots' gradients are one common factor times the model's derivatives
  (x**2, x and 1 for w1, w2 and b).

When neither settles it (the gradients are never reset, the data differ...), the spec's own names decide,
then the order in which the program created its slots (``w_1, w_2, b`` or ``w[0], w[1], w[2]``).  A
parameter no slot plays is left out: a model without its bias has no slot that behaves like b.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from grader.reference import loss_and_grads
from grader.spec import Spec

ROWS_TO_READ = 12  # the first passes (four epochs of the lecture's data) tell the roles; later ones only cost time
AGREE = 1e-3  # relative: how closely gradients must agree
MOST_SLOTS = 8  # more slots than this is no parameter set of this lecture's: only names and order decide


@dataclass(frozen=True)
class Roles:
    """slot label -> the spec's parameter it plays (a parameter no slot plays is absent), and how that was
    decided: ``gradients`` (the spec's gradients or the model's derivatives), ``names`` or ``order``."""

    by_slot: Mapping[str, str] = field(default_factory=dict)
    evidence: str = "names"

    def slot_of(self, name: str) -> str | None:
        return next((slot for slot, role in self.by_slot.items() if role == name), None)

    def renamed(self) -> dict[str, str]:
        """The slots whose label is not the name of the parameter they play (for the report's one line);
        an attribute of the spec's name (``self.w1``, ``model.w1``) says the name already."""
        return {slot: role for slot, role in self.by_slot.items() if slot.rsplit(".", 1)[-1] != role}


@dataclass(frozen=True)
class Fit:
    """How an assignment fits the passes read: passes where the gradients are exactly the spec's, passes
    where they follow the model's derivatives, and passes where they do not."""

    exact: int = 0
    follows: int = 0
    departs: int = 0

    @property
    def score(self) -> int:
        return self.exact + self.follows - self.departs

    @property
    def clean(self) -> bool:
        """The assignment explains the passes: more of them agree than depart."""
        return self.exact + self.follows > self.departs


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= AGREE * scale + 1e-9


def follows(observed: Sequence[float], expected: Sequence[float]) -> bool | None:
    """Whether ``observed`` is one common factor times ``expected`` (None: the pass tells nothing, as when
    every derivative is alike, at x = 1)."""
    if len(expected) < 2 or len(set(expected)) == 1:
        return None
    norm = sum(f * f for f in expected)
    if norm == 0:
        return None
    factor = sum(g * f for g, f in zip(observed, expected)) / norm
    scale = max(max(abs(g) for g in observed), abs(factor) * max(abs(f) for f in expected), 1e-12)
    return all(_close(g, factor * f, scale) for g, f in zip(observed, expected))


Samples = tuple[Sequence[float], Sequence[float]]  # (xs, ys): data a program may train on


def fit(spec: Spec, assignment: Mapping[str, str], labels: Sequence[str], rows: Sequence,
        data: Samples | None = None) -> Fit:
    """How well ``assignment`` (slot -> parameter) explains the first passes ``rows`` (each with ``grads``
    and ``values`` in the order of ``labels``), the passes taking ``data`` (the spec's unless given) in
    order; a parameter the assignment leaves out counts as 0."""
    if not assignment:
        return Fit()  # no slot plays anything: nothing is explained (an empty set of gradients fits any pass)
    xs, ys = data or (spec.x, spec.y)
    index = {label: i for i, label in enumerate(labels)}
    chosen = list(assignment.items())
    exact = agree = depart = 0
    for k, row in enumerate(rows[:ROWS_TO_READ]):
        x, y = xs[k % len(xs)], ys[k % len(xs)]
        values = {role: row.values[index[slot]] for slot, role in chosen}
        grads = [row.grads[index[slot]] for slot, _ in chosen]
        if any(v is None or not math.isfinite(v) for v in [*values.values(), *grads]):
            continue
        params = {name: values.get(name, 0.0) for name in spec.param_names}
        _, want = loss_and_grads(spec, params, x, y)
        scale = max([abs(g) for g in grads] + [abs(want[r]) for _, r in chosen] + [1e-12])
        if all(_close(g, want[role], scale) for g, (_, role) in zip(grads, chosen)):
            exact += 1
            continue
        _, derivatives = spec.model.evaluate({**params, "x": x}, wrt=spec.param_names)
        said = follows(grads, [float(derivatives[role]) for _, role in chosen])
        if said is True:
            agree += 1
        elif said is False or len(chosen) == 1:
            depart += 1
    return Fit(exact, agree, depart)


def assignments(names: Sequence[str], labels: Sequence[str]):
    """Every assignment of as many parameters as there are slots (or of every parameter to some of the
    slots): a slot a pass trains is part of the model, so it plays a parameter unless there are more slots
    than parameters; fewer slots than parameters is a model without some term."""
    size = min(len(names), len(labels))
    for roles in itertools.combinations(names, size):
        for chosen in itertools.permutations(labels, size):
            yield dict(zip(chosen, roles))


def by_names(names: Sequence[str], labels: Sequence[str]) -> dict[str, str]:
    return {name: name for name in names if name in labels}


def by_order(names: Sequence[str], labels: Sequence[str]) -> dict[str, str]:
    """The slots in the order the program made them, as the spec lists its parameters; only when there are
    exactly as many (otherwise which one is missing cannot be told)."""
    return dict(zip(labels, names)) if len(labels) == len(names) else {}


def _ranked(spec: Spec, labels: Sequence[str], rows: Sequence, data: Samples | None = None):
    """(key, assignment, fit) for every assignment; the best key is the largest."""
    names = spec.param_names
    named = by_names(names, labels)
    ordered = by_order(names, labels)
    for assignment in assignments(names, labels):
        found = fit(spec, assignment, labels, rows, data)
        key = (found.score, len(assignment), found.exact, assignment == named, assignment == ordered)
        yield key, assignment, found


def assign(spec: Spec, labels: Sequence[str], rows: Sequence, data: Sequence[Samples] = ()) -> tuple[Roles, Fit]:
    """The roles of the slots of one kind of backward pass (``rows``: its passes, in order), and how well
    they fit.  ``data``: other samples the code lists, tried only when no assignment explains the passes
    on the spec's (a homework trained on its own data, after a warm-up on the lecture's)."""
    names = spec.param_names
    named, ordered = by_names(names, labels), by_order(names, labels)
    fallback = Roles(named, "names") if len(named) == len(names) or not ordered else Roles(ordered, "order")
    if not labels:
        return Roles({}, "names"), Fit()
    if not rows or len(labels) > MOST_SLOTS:
        return fallback, fit(spec, fallback.by_slot, labels, rows) if rows else Fit()
    if len(named) == len(names) == len(labels):  # the skeleton's names: the usual case, checked, not searched
        found = fit(spec, named, labels, rows)
        if found.exact == min(len(rows), ROWS_TO_READ):
            return Roles(named, "names"), found
    key, best, found = max(_ranked(spec, labels, rows), key=lambda entry: entry[0])
    for samples in data if not found.clean else ():
        other = max(_ranked(spec, labels, rows, samples), key=lambda entry: entry[0])
        if other[2].clean and other[0] > key:
            key, best, found = other
    if found.clean:
        return Roles(best, "gradients"), found
    # Nothing explains the gradients (they are summed over passes, the data differ...): names, then order.
    return fallback, fit(spec, fallback.by_slot, labels, rows)

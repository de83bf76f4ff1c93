"""What the grader makes of a run before it checks anything (pure functions): which backward passes are the
assignment's, which of the student's slots plays which parameter, and how to call the student's forward
and loss at the hidden points; then, from the answers, which call stands for each function.

The child reports the passes by kind (the labels of the slots each trained), the slots' values at the end
and the student's functions it could call (``grader.protocol.Program``).  ``make_plan`` picks the kind that
is the assignment's training (a notebook may train both homeworks), gives the slots their roles
(grader/roles.py) and reads from the source how the training called its functions (grader/callsites.py).
Each function is tried the way the training called it first, then under the skeleton's name and
signature; ``choose`` keeps the first way whose answers are the spec's, else the first that answered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from grader import callsites as cs
from grader import static
from grader.i18n import _
from grader.protocol import Function, ProbeCall, ProbeResult, Program
from grader.reference import expected_call, model_and_grads
from grader.roles import Fit, Roles, Samples, assign, by_names
from grader.spec import Spec, Tolerance

LOOSE = Tolerance(rtol=1e-5, atol=1e-6)  # for telling a matching call when the spec does not grade the role
MOST_ATTEMPTS = 3  # ways of calling each function
MOST_SAMPLES = 8  # other data tried for the roles, at most
MOST_KINDS = 16  # kinds of backward pass weighed for the assignment's training, at most


@dataclass(frozen=True)
class Point:
    """A hidden point the parent drew: the role to call, the parameters' values, x and y (for the loss)."""

    kind: str
    params: Mapping[str, float]
    x: float
    y: float | None = None


@dataclass(frozen=True)
class Attempt:
    """One way of calling one of the student's functions for a role: ``function`` (its number in
    ``Program.functions``) with ``args`` and ``binds`` as in ``ProbeCall``; ``shown``: the call as the
    student would read it."""

    role: str
    function: int
    label: str
    args: tuple[str, ...]
    binds: tuple[tuple[str, str], ...] = ()
    shown: str = ""


@dataclass(frozen=True)
class Call:
    """A call to make: what crosses to the child, the attempt it belongs to and the point it is made at."""

    wire: ProbeCall
    attempt: int
    point: Point


@dataclass(frozen=True)
class Plan:
    kind: int | None = None  # the kind of backward pass graded (index into the observed kinds)
    labels: tuple[str, ...] = ()  # its slots
    roles: Roles = field(default_factory=Roles)
    fit: Fit = field(default_factory=Fit)
    slots: tuple[str, ...] = ()  # Program.slots: what ProbeCall.assign and ProbeResult.grads index
    attempts: tuple[Attempt, ...] = ()
    calls: tuple[Call, ...] = ()
    unreachable: Mapping[str, str] = field(default_factory=dict)  # role -> why it cannot be called


def units(submission) -> list[tuple[str, str]]:
    """The submission's code as the child runs it: (name ending, source) per script or notebook cell."""
    if submission.cells is not None:
        return [(f", cell {cell.number}", cell.source) for cell in submission.cells if cell.run]
    return [("", submission.source)]


def listed_samples(spec: Spec, submission) -> list[Samples]:
    """The (xs, ys) pairs the code lists as literals, other than the spec's: the data a program may train
    on instead (only ever taken where the passes confirm them)."""
    trees = static.parse(units(submission))
    lists = static.number_lists(trees) if trees is not None else []
    own = (tuple(spec.x), tuple(spec.y))
    pairs = [(xs, ys) for xs in lists for ys in lists if xs is not ys and len(xs) == len(ys) and (xs, ys) != own]
    return pairs[:MOST_SAMPLES]


def choose_kind(spec: Spec, kinds: Sequence, data: Sequence[Samples] = ()) -> tuple[int | None, Roles, Fit]:
    """The kind of backward pass that is this assignment's training: the one whose slots play most of the
    spec's parameters with gradients that fit (on the spec's data, or on other ``data`` the code lists),
    then the one named as the skeleton asks, then the longest."""
    best, best_key = (None, Roles(), Fit()), None
    # Each kind's roles cost a search; a program that trains hundreds of tensor sets is read by its longest.
    longest = sorted((i for i, kind in enumerate(kinds) if kind.labels), key=lambda i: -len(kinds[i].passes))
    for index in sorted(longest[:MOST_KINDS]):
        kind = kinds[index]
        small = len(kind.labels) <= len(spec.param_names) + 1  # other data are tried for a homework's few slots
        roles, found = assign(spec, kind.labels, kind.passes, data if small else ())
        named = len(by_names(spec.param_names, kind.labels))
        key = (found.clean, len(roles.by_slot), found.score, found.exact, named, len(kind.passes))
        if best_key is None or key > best_key:
            best, best_key = (index, roles, found), key
    return best


def _slot_index(slots: Sequence[str], name: str) -> int | None:
    """The slot a name passed as an argument stands for: the slot of that label, or the first element of
    the tensor of that name (``w`` for ``w[0]``)."""
    if name in slots:
        return slots.index(name)
    return next((i for i, label in enumerate(slots) if label.startswith(name + "[")), None)


def _template(site: cs.Site, role: str, slots: Sequence[str]) -> tuple[tuple[str, ...] | None, str]:
    """A site's arguments as call tokens, or None and the argument the grader cannot give."""
    tokens = []
    for arg in site.args:
        if arg.what == cs.X:
            tokens.append("x")
        elif arg.what == cs.Y and role == "loss":
            tokens.append("y")
        elif arg.what == cs.PRED and role == "loss":
            tokens.append("p")
        elif arg.what == cs.CONST:
            tokens.append(f"c{arg.value!r}")
        elif arg.what == cs.PARAM and _slot_index(slots, arg.name) is not None:
            tokens.append(f"s{_slot_index(slots, arg.name)}")
        else:
            return None, arg.name or "?"
    return tuple(tokens), ""


def _shown(label: str, args: Sequence[str], slots: Sequence[str]) -> str:
    words = {"x": "x", "y": "y", "p": "y_pred"}
    said = [words.get(t) or (slots[int(t[1:])] if t[0] == "s" else t[1:]) for t in args]
    return f"{label}({', '.join(said)})"


def _fits_arity(function: Function, args: Sequence[str]) -> bool:
    return len(function.args) - function.defaults <= len(args) <= len(function.args)


def attempts_for(spec: Spec, role: str, functions: Sequence[tuple[int, Function]], site: cs.Site | None,
                 loop: Sequence[str], slots: Sequence[str]) -> tuple[list[Attempt], str]:
    """The ways to call the function for ``role``: as the training called it, then the skeleton's name with
    the skeleton's arguments.  Also why none, when there is none."""
    by_label = {function.label: (number, function) for number, function in functions}
    found, why = [], ""
    if site is not None and site.callee in by_label:
        number, function = by_label[site.callee]
        args, missing = _template(site, role, slots)
        binds: tuple[tuple[str, str], ...] = ()
        if args == () and role == "loss" and not function.args:  # loss() reading the loop's x and y
            binds = tuple((name, what) for name, what in zip(loop, ("x", "y")) if name in function.reads)
            if len(binds) < 2:
                args, missing = None, _("the x and y it reads")
        if args is None:
            why = _("{call} is given {what} in your training, which the grader cannot give it").format(
                call=f"{site.callee}()", what=missing)
        elif _fits_arity(function, args):
            found.append(Attempt(role, number, function.label, args, binds, _shown(function.label, args, slots)))
    name = spec.functions[role]
    if name in by_label and not any(a.label == name for a in found):
        number, function = by_label[name]
        for args in ((("x",),) if role == "forward" else (("x", "y"), ("p", "y"))):
            if _fits_arity(function, args):
                found.append(Attempt(role, number, name, args, (), _shown(name, args, slots)))
    if not found and not why:
        why = _("no function of yours was found that the training calls for it, and none is named {name}").format(
            name=name)
    return found[:MOST_ATTEMPTS], why


def make_plan(spec: Spec, submission, kinds: Sequence, program: Program | None, points: Sequence[Point]) -> Plan:
    """What to grade and how to call the student's functions at ``points`` (none when the program said
    nothing of what it trained)."""
    kind, roles, found = choose_kind(spec, kinds, listed_samples(spec, submission))
    labels = kinds[kind].labels if kind is not None else ()
    if program is None:
        return Plan(kind, labels, roles, found)
    slots = program.slots
    if kind is None:  # no backward pass: the tensors the program made stand in, by name, then order
        labels = slots
        roles, found = assign(spec, labels, [])
    functions = [(n, f) for n, f in enumerate(program.functions)
                 if f.kind == (program.kinds.index(labels) if labels in program.kinds else None)]
    first = kinds[kind].passes[0] if kind is not None and kinds[kind].passes else None
    params = set(labels) | {label.split("[")[0] for label in labels}
    chain = cs.chain_at(units(submission), first.file if first else None, first.line if first else None,
                        {f.label for _, f in functions}, params) if first else None
    attempts: list[Attempt] = []
    unreachable = {}
    for role in ("forward", "loss"):
        site = (chain.forward if role == "forward" else chain.loss) if chain else None
        found_attempts, why = attempts_for(spec, role, functions, site, chain.loop if chain else (), slots)
        attempts += found_attempts
        if not found_attempts:
            unreachable[role] = why
    assigned = {name: slots.index(slot) for slot, name in roles.by_slot.items() if slot in slots}
    calls = []
    for point in points:
        for number, attempt in enumerate(attempts):
            if attempt.role != point.kind:
                continue
            pred = model_and_grads(spec, point.params, point.x)[0] if "p" in attempt.args else None
            wire = ProbeCall(index=len(calls), function=attempt.function, args=attempt.args, binds=attempt.binds,
                             x=point.x, y=point.y, pred=pred,
                             assign=tuple((slot, float(point.params[name])) for name, slot in assigned.items()))
            calls.append(Call(wire, number, point))
    return Plan(kind, labels, roles, found, slots, tuple(attempts), tuple(calls), unreachable)


# -- after the calls: which attempt stands for each function ------------------------------------------


def expected(spec: Spec, call: Call) -> tuple[float, dict[str, float]]:
    point = call.point
    return expected_call(spec, point.kind, point.params, point.x, point.y, call.wire.pred)


def grads_by_name(plan: Plan, call: Call, answer: ProbeResult) -> dict[str, float | None]:
    if call.wire.pred is not None:
        return {"y_pred": answer.pred_grad}
    index = {slot: i for i, slot in enumerate(plan.slots)}
    by_role = {role: slot for slot, role in plan.roles.by_slot.items()}
    grads = {}
    for name in call.point.params:
        i = index.get(by_role.get(name, ""))
        grads[name] = answer.grads[i] if i is not None and i < len(answer.grads) else None
    return grads


def matches(spec: Spec, plan: Plan, call: Call, answer: ProbeResult) -> bool:
    tol = spec.check(call.point.kind).tolerance if spec.grades(call.point.kind) else LOOSE
    if answer.error is not None or not tol.close(answer.value, expected(spec, call)[0]):
        return False
    got = grads_by_name(plan, call, answer)
    return all(tol.close(got.get(name), want) for name, want in expected(spec, call)[1].items())


def choose(spec: Spec, plan: Plan, answers: Mapping[int, ProbeResult]) -> dict[str, tuple[Attempt, list]]:
    """role -> (the attempt that stands for the student's function, [(call, answer)...] of it): the first
    whose every answer is the spec's, else the first that returned values, else the first answered."""
    chosen = {}
    for role in ("forward", "loss"):
        tried = []
        for number, attempt in enumerate(plan.attempts):
            if attempt.role != role:
                continue
            answered = [(c, answers[c.wire.index]) for c in plan.calls
                        if c.attempt == number and c.wire.index in answers]
            if answered:
                tried.append((attempt, answered))
        right = next((t for t in tried if all(matches(spec, plan, c, a) for c, a in t[1])), None)
        valued = next((t for t in tried if any(a.value is not None for _, a in t[1])), None)
        pick = right or valued or (tried[0] if tried else None)
        if pick is not None:
            chosen[role] = pick
    return chosen


def remapped(spec: Spec, plan: Plan, answers: Mapping[int, ProbeResult]) -> Plan:
    """The plan with the roles the forward calls show, when the passes could not show them (no backward
    pass ran, or none fitted) and the names were taken at their word: a forward whose gradients are the
    spec's derivatives with the slots in another order is that model under other names (``w2 * x**2 + w1 *
    x``).  Each call's point is read again as the student's model saw it.  The plan as it is otherwise."""
    if plan.roles.evidence == "gradients" or len(plan.roles.by_slot) < 2:
        return plan
    forward = [number for number, attempt in enumerate(plan.attempts) if attempt.role == "forward"]

    def fits(candidate: Plan) -> bool:
        """Each slot's gradient is the model's derivative for the parameter it would play: which slot
        multiplies x**2, which x, is what roles are (a value off by a constant is another matter)."""
        played = set(candidate.roles.by_slot.values())

        def agrees(call: Call, answer: ProbeResult) -> bool:
            got = grads_by_name(candidate, call, answer)
            told = [(got[n], want) for n, want in expected(spec, call)[1].items() if n in played and got.get(n) is not None]
            return answer.error is None and len(told) >= 2 and all(LOOSE.close(g, want) for g, want in told)

        for number in forward:
            answered = [(c, answers[c.wire.index]) for c in candidate.calls
                        if c.attempt == number and c.wire.index in answers]
            if answered and all(agrees(c, a) for c, a in answered):
                return True
        return False

    if not forward or fits(plan):
        return plan
    slots = list(plan.roles.by_slot)
    names = [plan.roles.by_slot[s] for s in slots]
    for order in itertools.permutations(names):
        if list(order) == names:
            continue
        renamed = dict(zip(names, order))  # the name a value was given under -> the name it plays
        calls = tuple(replace(c, point=replace(c.point, params=_reordered(spec, {
            renamed.get(n, n): v for n, v in c.point.params.items()}))) for c in plan.calls)
        candidate = replace(plan, roles=Roles(dict(zip(slots, order)), "probes"), calls=calls)
        if fits(candidate):
            return candidate
    return plan


def _reordered(spec: Spec, params: Mapping[str, float]) -> dict[str, float]:
    """The spec's order, as messages list parameters."""
    return {n: params[n] for n in sorted(params, key=lambda n: spec.param_names.index(n) if n in spec.param_names else 99)}

"""Diagnoses: name the usual backpropagation mistakes behind failed checks.

Pure functions of the spec, the student's trace, the check results and the submission's text.  The trace
holds the student's own parameter values at every backward pass, so each step can be judged on its own:
given the parameters the student had, was the loss right (the data), was the gradient right (the model,
the loss, the reset), and did the parameters then move by ``-lr * grad`` (the update)?

Each detector tests one hypothesis: a function ``(Context) -> list[Diagnosis]`` that returns what it saw
(empty when the hypothesis does not hold) and, where it can, the line of the student's code to look at.
``DETECTORS`` lists them once, in report order; ``diagnose`` runs them all, drops the diagnoses another
one implies, and falls back on ``unexplained`` when none fits.  What a detector reads is grader/context.py;
what is read from the code of a program that stopped early is grader/fromcode.py.
"""

from __future__ import annotations

import re
import statistics
from typing import Callable, Sequence

from grader import static
from grader.check import FAIL, PASS, CheckResult, fmt, step_label
from grader.context import (LOCAL, Context, Diagnosis, as_written, code_at, held_constant, locate, locate_any,
                            numbers_text)
from grader.evidence import complete, one_sample_x
from grader.fromcode import from_the_code
from grader.i18n import N_, _, sentences
from grader.load import Submission
from grader.reference import loss_and_grads, model_and_grads
from grader.spec import Spec
from grader.trace import EXCEPTION, FINISHED, TIMEOUT, Probe, Step, Trace

FLOAT32_EPS = 2.0 ** -23  # the spacing of float32 numbers, relative to their size


# A few words for each diagnosis, for the console line and the notebook's check cell.
TITLES = {
    "initial_values": N_("other starting values"),
    "data": N_("other training data"),
    "batch_updates": N_("one update per epoch instead of per sample"),
    "loss_formula": N_("another loss formula"),
    "model_terms": N_("the model's terms differ"),
    "param_replaced": N_("a parameter replaced by a new tensor"),
    "grad_not_reset": N_("gradients not reset"),
    "param_not_updated": N_("a parameter not updated by its gradient"),
    "update_sign": N_("updates in the wrong direction"),
    "learning_rate": N_("another learning rate"),
    "epochs": N_("another number of epochs"),
    "no_backward": N_("backward() never called"),
    "unexplained": N_("no usual mistake matches"),
}
# Mistakes that leave .grad empty: an AttributeError or TypeError on None that follows is their consequence.
LEAVES_GRAD_EMPTY = frozenset({"param_replaced", "no_backward"})


def title(diagnosis_id: str) -> str:
    return _(TITLES[diagnosis_id]) if diagnosis_id in TITLES else diagnosis_id


def explains_error(diagnosis: "Diagnosis", trace: Trace) -> bool:
    """Whether the exception that stopped the program follows from this mistake (an empty .grad used)."""
    outcome = trace.outcome
    if diagnosis.evidence.get("stops_the_program") is True:
        return True
    return (diagnosis.id in LEAVES_GRAD_EMPTY and outcome.status == EXCEPTION
            and outcome.exc_type in ("AttributeError", "TypeError") and "None" in (outcome.message or ""))


def _not_one_sample(ctx: Context) -> bool:
    """The first informative passes are no single sample's (a model of several parameters tells)."""
    said = [one_sample_x(ctx.spec, step) for step in ctx.trace.steps[:6]]
    told = [x for x in said if x is not None]
    return len(told) >= 2 and all(x is False for x in told)


def initial_values(ctx: Context) -> list[Diagnosis]:
    if not ctx.trace.steps:
        return []
    first = ctx.trace.steps[0].params
    wrong = {
        name: first[name]
        for name, start in ctx.spec.parameters
        if first.get(name) is not None and not LOCAL.close(first[name], start)
    }
    if not wrong:
        return []
    said = ", ".join(
        _("{name} starts at {got} instead of {want}").format(name=n, got=fmt(v), want=fmt(ctx.spec.initial[n]))
        for n, v in wrong.items()
    )
    name = next(iter(wrong))
    file, line, text = locate(ctx.submission, rf"^\s*{re.escape(ctx.code_name(name))}\s*=")
    return [Diagnosis(
        "initial_values",
        _("Training starts from other parameter values: {said}. Start from the values the assignment "
          "gives{where}.").format(said=said, where=code_at(file, line, text)),
        {"observed": wrong, "expected": {n: ctx.spec.initial[n] for n in wrong}},
        file, line,
    )]


def _batch_mean_loss(ctx: Context, step: Step) -> float | None:
    """The mean of the samples' losses at the step's parameters, through the spec's model or, where that
    one does not give the step's loss (as mean or sum) and the model the code's forward returns does,
    through the student's (a batch run of a model with an extra term)."""
    means = []
    for model in (None, *ctx.code_models):
        losses = [ctx.loss_at(step, x, y, model) for x, y in zip(ctx.spec.x, ctx.spec.y)]
        if None not in losses:
            means.append(sum(losses) / len(losses))
    for mean in means:
        if any(LOCAL.close(step.loss, m) for m in (mean, mean * ctx.spec.samples)):
            return mean
    return means[0] if means else None


def batch_updates(ctx: Context) -> list[Diagnosis]:
    """One backward pass (and update) per epoch over all samples, instead of one per sample: the first
    loss is the mean or the sum of the samples' losses, or the gradients are no one sample's, or the
    parameters move only at the ends of epochs."""
    trace, spec = ctx.trace, ctx.spec
    if spec.samples < 2 or not trace.steps:
        return []
    start = ctx.filled(trace.steps[0])
    mean_loss = _batch_mean_loss(ctx, start)
    first = start.loss
    one = complete(start, spec.param_names) and first is not None and LOCAL.close(
        first, loss_and_grads(spec, start.params, spec.x[0], spec.y[0])[0])
    summed = not one and mean_loss is not None and first is not None and (
        LOCAL.close(first, mean_loss) or LOCAL.close(first, mean_loss * spec.samples))
    if not (summed or _not_one_sample(ctx) or _updates_only_at_epoch_ends(ctx)):
        return []
    return [Diagnosis(
        "batch_updates",
        _("The parameters are updated once per epoch, over all samples together. The assignment updates "
          "after every sample: inside the loop over the samples, compute one sample's loss, call backward(), "
          "update, reset."),
        {"backward_passes": trace.backward_count, "expected": spec.total_steps},
    )]


def _updates_only_at_epoch_ends(ctx: Context) -> bool:
    steps = ctx.steps()
    names = ctx.spec.param_names
    S = ctx.spec.samples
    if len(steps) < 2 * S or not all(complete(s, names) for s in steps):
        return False
    within = [k for k in range(len(steps) - 1) if k % S != S - 1]
    ends = [k for k in range(len(steps) - 1) if k % S == S - 1]
    still = all(steps[k].params == steps[k + 1].params for k in within)
    moved = any(steps[k].params != steps[k + 1].params for k in ends)
    return still and moved


DATA_LINE = r"^\s*[xy]_?\w*\s*=\s*[\[(]|torch\.tensor\(\s*\["  # where data are set: x_data = [...]


def data(ctx: Context) -> list[Diagnosis]:
    """The loss of a step is not the loss of the data-order sample at the student's own parameters (for a
    batch, not the mean or the sum of the samples' losses)."""
    if ctx.passed("forward") and batch_updates(ctx) and ctx.trace.steps:
        step = ctx.filled(ctx.trace.steps[0])
        mean = _batch_mean_loss(ctx, step)
        if mean is None or step.loss is None or any(LOCAL.close(step.loss, m) for m in (mean, mean * ctx.spec.samples)):
            return []
        file, line, text = locate(ctx.submission, DATA_LINE)
        return [Diagnosis("data", _(
            "The first loss is {got}, but over the assignment's samples (x = {xs}, y = {ys}) your parameters give "
            "{mean} on average: the training data differ from the assignment's{where}.").format(
                got=fmt(step.loss), xs=list(ctx.spec.x), ys=list(ctx.spec.y), mean=fmt(mean),
                where=code_at(file, line, text)), {"loss": step.loss, "expected_mean": mean}, file, line)]
    own = (tuple(ctx.spec.x), tuple(ctx.spec.y))
    if ctx.data != own:  # the passes confirm other data the code lists, whatever the model
        xs, ys = ctx.data
        listed = static.where_listed(ctx.trees, xs) if ctx.trees is not None else None
        file, line, text = as_written(ctx.submission, listed) if listed else (None, None, None)
        return [Diagnosis("data", _(
            "Your program trains on x = {got_x}, y = {got_y}; the assignment's data are x = {xs}, y = {ys}{where}."
        ).format(got_x=numbers_text(xs), got_y=numbers_text(ys), xs=numbers_text(own[0]), ys=numbers_text(own[1]),
                 where=code_at(file, line, text)), {"x": list(xs), "y": list(ys)}, file, line)]
    # How many samples an epoch goes through is read from the passes alone, whatever the model and the loss.
    per = ctx.passes_per_epoch
    if per is not None and per != ctx.spec.samples and not batch_updates(ctx):
        file, line, text = locate(ctx.submission, DATA_LINE)
        return [Diagnosis("data", _(
            "Each epoch of your training goes through {per} samples; the assignment's data have {n} (x = {xs}, "
            "y = {ys}){where}.").format(per=per, n=ctx.spec.samples, xs=list(ctx.spec.x), ys=list(ctx.spec.y),
                                        where=code_at(file, line, text)), {"samples_per_epoch": per}, file, line)]
    if not (ctx.passed("forward") and ctx.passed("loss")):
        return []
    for k, step in enumerate(ctx.steps(2)):
        if step.loss is None or not complete(step, ctx.spec.param_names):
            continue
        x, y = ctx.spec.x[k % ctx.spec.samples], ctx.spec.y[k % ctx.spec.samples]
        want = loss_and_grads(ctx.spec, step.params, x, y)[0]
        if LOCAL.close(step.loss, want):
            continue
        others = [
            (xo, yo) for xo, yo in zip(ctx.spec.x, ctx.spec.y)
            if LOCAL.close(step.loss, loss_and_grads(ctx.spec, step.params, xo, yo)[0])
        ]
        if others:
            message = _("{step} used the sample x={x:g}, y={y:g}: the samples are not used in the assignment's "
                        "order.").format(step=step_label(ctx.spec, k), x=others[0][0], y=others[0][1])
        else:
            message = _("At {step} the loss is {got}, but the sample x={x:g}, y={y:g} at your parameters gives "
                        "{want}: the training data differ from the assignment's (x = {xs}, y = {ys}).").format(
                step=step_label(ctx.spec, k), got=fmt(step.loss), x=x, y=y, want=fmt(want),
                xs=list(ctx.spec.x), ys=list(ctx.spec.y))
        file, line, text = locate(ctx.submission, DATA_LINE)
        if line:
            message = sentences(message, _("Your data are set{where}.").format(where=code_at(file, line, text)))
        return [Diagnosis("data", message, {"step": k + 1, "loss": step.loss, "expected": want},
                         file, line)]
    return []


# What students type for Tensor.zero_(): the program stops at its reset line, which never reset anything.
RESET_SLIPS = re.compile(r"'Tensor' object has no attribute '(zero|zeros|zeros_|zero_grad|clear|reset|zero__)'")


def _reset_slip(ctx: Context) -> list[Diagnosis]:
    outcome = ctx.trace.outcome
    slip = RESET_SLIPS.search(outcome.message or "") if outcome.exc_type == "AttributeError" else None
    if slip is None or not ctx.trace.steps:
        return []
    return [Diagnosis(
        "grad_not_reset",
        _("The gradient reset{where} calls {method}(), which tensors do not have, so the program stops there and "
          "the gradient is never reset. The method is zero_(): w.grad.data.zero_() (or w.grad = None).").format(
            where=code_at(outcome.file, outcome.line), method=slip.group(1)),
        {"method": slip.group(1), "stops_the_program": True}, outcome.file, outcome.line,
    )]


def grad_not_reset(ctx: Context) -> list[Diagnosis]:
    """Each step's .grad holds the sum of this step's gradient and earlier ones (or the reset line itself
    fails, a misspelt zero_())."""
    slip = _reset_slip(ctx)
    if slip:
        return slip
    steps = ctx.steps()
    spec = ctx.spec
    if len(steps) < 2:
        return []
    local = []
    for k, step in enumerate(steps):
        if not complete(step, spec.param_names):
            return []
        local.append(loss_and_grads(spec, step.params, *ctx.sample(k))[1])
    # The first pass starts from empty gradients: unless it has the spec's gradients (the model, the loss and
    # the data are right), later sums say nothing.
    if not all(steps[0].grads.get(n) is None or LOCAL.close(steps[0].grads[n], local[0][n]) for n in spec.param_names):
        return []
    never, per_epoch = [], []
    for name in spec.param_names:
        observed = [s.grads.get(name) for s in steps]
        if any(g is None for g in observed):
            continue
        if all(LOCAL.close(observed[k], local[k][name]) for k in range(len(steps))):
            continue
        total, epoch_total = 0.0, 0.0
        fits_never = fits_epoch = True
        for k in range(len(steps)):
            if k % ctx.samples == 0:
                epoch_total = 0.0
            total += local[k][name]
            epoch_total += local[k][name]
            fits_never = fits_never and LOCAL.close(observed[k], total)
            fits_epoch = fits_epoch and LOCAL.close(observed[k], epoch_total)
        if fits_never:
            never.append(name)
        elif fits_epoch:
            per_epoch.append(name)
    if not never and not per_epoch:
        return []
    parts = []
    if never:
        parts.append(_("{names}: the gradient is never reset, so each step's .grad is the sum of all gradients "
                       "so far.").format(names=", ".join(never)))
    if per_epoch:
        parts.append(_("{names}: the gradient is reset once per epoch instead of after every sample, so it "
                       "adds up within each epoch.").format(names=", ".join(per_epoch)))
    name = (never + per_epoch)[0]
    code = re.escape(ctx.code_name(name))
    file, line, text = locate(ctx.submission, rf"{code}\.grad\.(data\.)?zero_\(|{code}\.grad\s*=\s*None|zero_grad\(")
    hint = _("Reset it after each update with {name}.grad.zero_() (or {name}.grad = None): backward() adds "
             "to .grad, it does not overwrite it.").format(name=name)
    if file and per_epoch:
        hint = sentences(hint, _("Your reset{where} runs too rarely.").format(where=code_at(file, line, text)))
    elif not file and steps[0].line:
        file, line = steps[0].file, steps[0].line
        hint = sentences(hint, _("Put the reset in the loop over the samples, after the update that follows "
                                 "backward(){where}.").format(where=code_at(file, line)))
    return [Diagnosis(
        "grad_not_reset", sentences(*parts, hint),
        {"never_reset": never, "reset_per_epoch": per_epoch}, file, line,
    )]


def param_replaced(ctx: Context) -> list[Diagnosis]:
    """The parameter was rebound (w = w - ...): its .grad disappears after the first update."""
    if not ctx.trace.steps:
        return []
    lost = [n for n in ctx.spec.param_names if ctx.trace.final_leaf.get(n) is False]
    if not lost:
        return []
    name = lost[0]
    code = re.escape(ctx.code_name(name))
    pattern = rf"^\s*{code}\s*=\s*{code}\b|^\s*{code}\s*=.*{code}\.grad"
    file, line, text = locate(ctx.submission, pattern)
    return [Diagnosis(
        "param_replaced",
        _("{names}: the parameter is replaced by a new tensor{where} instead of being updated in place. The new "
          "tensor is computed from the old one, so it is not a leaf of the graph and autograd leaves its .grad "
          "empty (None). Update in place: {name}.data = {name}.data - lr * {name}.grad.data, or "
          "`with torch.no_grad(): {name} -= lr * {name}.grad`.").format(
            names=", ".join(lost), where=code_at(file, line, text), name=name),
        {"parameters": lost}, file, line,
    )]


def _update_ratios(ctx: Context, name: str) -> list[float] | None:
    """-delta / grad at each step: the learning rate each update used (None when it cannot be read)."""
    steps = ctx.steps()
    ratios = []
    for k in range(len(steps) - 1):
        p0, p1, g = steps[k].params.get(name), steps[k + 1].params.get(name), steps[k].grads.get(name)
        if p0 is None or p1 is None or g is None or abs(g) < 1e-6:
            continue
        ratio = -(p1 - p0) / g
        # A float32 parameter moves by whole steps of its spacing: a small rate times a small gradient is
        # read too coarsely to tell one rate from another (lr 0.0001 near 1.0); such a step says nothing.
        resolution = 2 * FLOAT32_EPS * max(abs(p0), abs(p1)) / abs(g)
        if resolution > 0.002 * max(abs(ratio), ctx.spec.learning_rate):
            continue
        ratios.append(ratio)
    return ratios or None


def param_not_updated(ctx: Context) -> list[Diagnosis]:
    steps = ctx.trace.steps
    if len(steps) < 2:
        return []
    frozen = [n for n in ctx.spec.param_names
              if all(s.params.get(n) is not None for s in steps) and len({s.params[n] for s in steps}) == 1
              and any(s.grads.get(n) not in (None, 0.0) for s in steps)]
    if not frozen:
        return []
    return [Diagnosis(
        "param_not_updated",
        _("{names} never changes during training, although its gradient is not zero: it is never updated. "
          "Update every parameter after each backward(): p.data = p.data - lr * p.grad.data.").format(
            names=", ".join(frozen)),
        {"parameters": frozen},
    )]


def _scaled_together(ratio_lists: list[list[float]]) -> bool:
    """At each step, every parameter's rate is the same (one factor scales all the gradients)."""
    if len({len(r) for r in ratio_lists}) != 1:
        return False
    return all(max(step) - min(step) <= 0.01 * max(abs(v) for v in step) + 1e-12 for step in zip(*ratio_lists))


def _steady(ratios: list[float]) -> bool:
    """One rate at every step (a learning rate), not a step that follows something else than the gradient."""
    middle = statistics.median(ratios)
    return all(abs(r - middle) <= 0.01 * abs(middle) + 1e-9 for r in ratios)


def learning_rate_and_sign(ctx: Context) -> list[Diagnosis]:
    """The rate of the updates (one rate at every step), its sign; and a parameter whose steps follow no
    single rate of its own gradient (it is updated with another one's, or overwritten)."""
    lr = ctx.spec.learning_rate
    estimates, astray, all_ratios = {}, [], {}
    for name in ctx.spec.param_names:
        ratios = _update_ratios(ctx, name)
        if ratios and len(ratios) >= 2:
            all_ratios[name] = ratios
            if _steady(ratios):
                estimates[name] = statistics.median(ratios)
            else:
                astray.append(name)
    if len(astray) >= 2 and len(astray) == len(all_ratios) and _scaled_together(list(all_ratios.values())):
        # Every parameter's step is its own gradient times one factor that changes from step to step (the
        # gradients clipped or normalised together): each is updated by its own gradient; the largest
        # factor is the rate of an unclipped step.
        estimates, astray = {name: max(ratios) for name, ratios in all_ratios.items()}, []
    out = []
    if astray:
        code = re.escape(ctx.code_name(astray[0]))
        file, line, text = locate_any(ctx.submission, rf"\b{code}(\.data)?\s*(=|-=|\+=).*grad",
                                      rf"\b{code}(\.data)?\s*(-=|\+=)")
        out.append(Diagnosis(
            "param_not_updated",
            _("{names} is not updated by its own gradient: its steps are not one rate times -{first}.grad{where}. "
              "Update each parameter with its own gradient: p.data = p.data - lr * p.grad.data.").format(
                names=", ".join(astray), first=astray[0], where=code_at(file, line, text)),
            {"parameters": astray, "steps_follow_its_gradient": False}, file, line,
        ))
    if not estimates:
        return out
    flipped = [n for n, r in estimates.items() if r < 0]
    if flipped:
        file, line, text = locate(ctx.submission, rf"{re.escape(ctx.code_name(flipped[0]))}(\.data)?\s*(=.*\+|\+=)")
        out.append(Diagnosis(
            "update_sign",
            _("{names} moves up the gradient (p + lr * grad), so the loss grows instead of shrinking{where}. "
              "Gradient descent subtracts: p - lr * grad.").format(names=", ".join(flipped), where=code_at(file, line, text)),
            {"parameters": flipped, "estimated_rate": {n: estimates[n] for n in flipped}}, file, line,
        ))
    other = {n: r for n, r in estimates.items() if r > 0 and abs(r - lr) > 0.01 * lr}
    if other:
        rate = statistics.median(other.values())
        file, line, text = locate_any(ctx.submission, rf"{re.escape(ctx.code_name(next(iter(other))))}\b.*(-=|=).*\bgrad",
                                      r"(-=|=).*\d.*\.grad\b", r"\blr\s*=|learning_rate\s*=")
        out.append(Diagnosis(
            "learning_rate",
            _("The updates match a learning rate of about {rate:.4g}, not {lr:g}{where}. The gradients are right; "
              "the step size is not.").format(rate=rate, lr=lr, where=code_at(file, line, text)),
            {"estimated": rate, "expected": lr, "per_parameter": other}, file, line,
        ))
    return out


def epochs(ctx: Context) -> list[Diagnosis]:
    """Another number of epochs: counted in the student's own epochs (how many passes one takes is read from
    the passes, so other data still count right), or seen in a program still training when its time ran
    out after more steps than the assignment's whole training."""
    count, spec, status = ctx.trace.backward_count, ctx.spec, ctx.trace.outcome.status
    file, line, text = locate(ctx.submission, r"for\s+\w+\s+in\s+range\(")
    if status != FINISHED and count > spec.total_steps:  # cut by the time limit, or by an error, past the training
        said = (_("Your program was still training at step {count} when its time ran out; the assignment trains "
                  "{epochs} epochs ({steps} steps), which take well under a second{where}.") if status == TIMEOUT
                else _("Your program ran {count} training steps before it stopped; the assignment trains {epochs} "
                       "epochs ({steps} steps){where}."))
        return [Diagnosis(
            "epochs",
            said.format(count=f"{count:,}", epochs=spec.epochs, steps=spec.total_steps, where=code_at(file, line, text)),
            {"steps": count, "expected_steps": spec.total_steps}, file, line,
        )]
    literal = static.epochs(ctx.trees) if ctx.trees is not None else None
    if not (status == FINISHED or _stopped_after(ctx, literal)) or count == 0 or count == spec.total_steps:
        return []
    batch = bool(batch_updates(ctx))
    per = 1 if batch else ctx.passes_per_epoch or spec.samples
    if literal is not None and literal.value >= 1 and count % int(literal.value) == 0 \
            and count // int(literal.value) >= 2:
        # The code's own epoch loop agrees with the count, with several passes in each of its turns (a loop
        # over the samples inside): trust it over a period read from passes a mistake may have blurred.
        per = count // int(literal.value)
    run = count // per
    # A count that is no whole number of epochs says nothing, unless it is past the whole training (a pass
    # or two of something else beside many more epochs than the assignment's).
    if (count % per and count < spec.total_steps + per) or run == spec.epochs:
        return []
    return [Diagnosis(
        "epochs",
        _("Training ran {run} epochs; the assignment asks for {epochs}{where}.").format(
            run=run, epochs=spec.epochs, where=code_at(file, line, text)),
        {"epochs": run, "expected": spec.epochs}, file, line,
    )]


def _stopped_after(ctx: Context, loop: "static.Read | None") -> bool:
    """The program's error came after its one training loop had run to its end (a leftover line below it):
    the passes are its whole training."""
    outcome = ctx.trace.outcome
    return (loop is not None and outcome.status == EXCEPTION and bool(outcome.file) and bool(outcome.line)
            and static.after(ctx.trees, loop, (outcome.file, outcome.line)))


LOSS_CANDIDATES: tuple[tuple[str, Callable[[float, float], float]], ...] = (
    ("y_pred - y", lambda p, y: p - y),
    ("y - y_pred", lambda p, y: y - p),
    ("abs(y_pred - y)", lambda p, y: abs(p - y)),
    ("(y_pred - y) ** 2 / 2", lambda p, y: (p - y) ** 2 / 2),
    ("y_pred - y ** 2", lambda p, y: p - y**2),
    ("y_pred ** 2 - y ** 2", lambda p, y: p**2 - y**2),
    ("(y_pred + y) ** 2", lambda p, y: (p + y) ** 2),
)


# What backward() says when the value it is called on never touched a parameter.
DETACHED_LOSS = re.compile(r"'(int|float|numpy\.\w+)' object has no attribute 'backward'"
                           r"|does not require grad and does not have a grad_fn")


def _detached_loss(ctx: Context) -> list[Diagnosis]:
    """The program stopped at its first backward() because the loss it called it on was computed without
    the model (``loss(x, y)`` for a loss written ``loss(y_pred, y)``, or ``(x - y) ** 2``)."""
    outcome = ctx.trace.outcome
    if ctx.trace.backward_count or outcome.status != EXCEPTION or not DETACHED_LOSS.search(outcome.message or ""):
        return []
    file, line, text = locate(ctx.submission, r"\.backward\(")
    if line != outcome.line:
        file, line, text = outcome.file, outcome.line, None
    return [Diagnosis(
        "loss_formula",
        _("backward() was called on a loss that no parameter takes part in{where}, so autograd has nothing to "
          "differentiate. Compute the loss from the model's prediction, forward(x): a loss written as "
          "loss(y_pred, y) is called with the prediction, not with x.").format(where=code_at(file, line, text)),
        {"loss_reaches_parameters": False, "stops_the_program": True}, file, line,
    )]


def loss_formula(ctx: Context) -> list[Diagnosis]:
    """The loss is not the spec's loss of one sample: a batch loss, a usual slip, one without the model, or
    something else."""
    detached = _detached_loss(ctx)
    if detached:
        return detached
    loss = ctx.spec.loss.text
    probes = [p for p in ctx.trace.probes if p.kind == "loss" and p.value is not None]
    batch = _batch_loss(ctx)
    if not ctx.failed("loss") and not batch:
        return []
    if batch:
        return [Diagnosis(
            "loss_formula",
            _("Each backward() starts from a loss over all samples together ({how}), not from the loss of one "
              "sample, {loss}.").format(how=batch, loss=loss),
            {"batch_loss": batch},
        )]
    if not probes or not ctx.passed("forward"):
        return []
    for formula, f in LOSS_CANDIDATES:
        if all(LOCAL.close(p.value, f(_prediction(ctx.spec, p), p.y or 0.0)) for p in probes):
            file, line, text = locate(ctx.submission, r"return\b.*\by\b")
            return [Diagnosis(
                "loss_formula",
                _("Your loss computes {formula}; the loss of one sample is {loss}{where}.").format(
                    formula=formula, loss=loss, where=code_at(file, line, text)),
                {"computed": formula, "expected": loss}, file, line,
            )]
    probe = probes[0]
    want = loss_and_grads(ctx.spec, probe.params, probe.x, probe.y or 0.0)[0]
    call = f"{ctx.spec.functions['loss']}({probe.x:g}, {probe.y or 0.0:g})"
    return [Diagnosis(
        "loss_formula",
        _("Your loss does not compute {loss} for one sample: {call} returned {got}, while {loss} is "
          "{want}.").format(loss=loss, call=call, got=fmt(probe.value), want=fmt(want)),
        {"observed": probe.value, "expected": want},
    )]


def _prediction(spec: Spec, probe: Probe) -> float:
    return model_and_grads(spec, probe.params, probe.x)[0]


def _batch_loss(ctx: Context) -> str | None:
    """The first backward() ran on the mean or the sum of every sample's loss (whatever the number of
    epochs), and not on one sample's loss that happens to be as large."""
    steps = ctx.trace.steps
    if not steps or steps[0].loss is None:
        return None
    first = ctx.filled(steps[0])
    mean = _batch_mean_loss(ctx, first)
    if mean is None:
        return None
    spec = ctx.spec
    if LOCAL.close(first.loss, loss_and_grads(spec, first.params, spec.x[0], spec.y[0])[0]):
        return None
    if LOCAL.close(first.loss, mean):
        return _("the mean of the samples' losses")
    if LOCAL.close(first.loss, mean * spec.samples):
        return _("the sum of the samples' losses")
    return None


def model_terms(ctx: Context) -> list[Diagnosis]:
    """The model is not the spec's: a parameter whose gradient is missing or not the model's, or a
    parameter of the student's that plays none of the spec's (a term the spec's model does not have)."""
    probes = [p for p in ctx.trace.probes if p.kind == "forward" and p.error is None and p.value is not None]
    # Slots that play no parameter are a term only when backward passes trained them (without any, the
    # slots are every tensor the program made, and say nothing of its model).
    extra = [slot for slot in ctx.trace.slots if slot not in ctx.trace.roles] if ctx.trace.steps else []
    if not (ctx.failed("forward") or (extra and ctx.failed("first_epoch_grads"))):
        return []
    if not probes and not extra:
        return []
    names = ctx.spec.param_names
    expected = [model_and_grads(ctx.spec, p.params, p.x)[1] for p in probes]
    findings, evidence, constants = [], {}, []
    if extra:
        findings.append(_("Your model has {slots}, which plays none of the assignment's parameters: a term the "
                          "assignment's model does not have.").format(slots=", ".join(f"`{s}`" for s in extra)))
        evidence["extra"] = extra
    for name in names if probes else ():
        observed = [p.grads.get(name) for p in probes]
        if all(LOCAL.close(o, e[name]) for o, e in zip(observed, expected)):
            continue
        if all(o is None or o == 0.0 for o in observed):
            constant = held_constant(ctx, probes, name)
            if constant is not None:
                constants.append((name, constant))
                continue
            findings.append(_("{name} does not take part in your model (its gradient is 0 or empty).").format(name=name))
            evidence[name] = "missing"
            continue
        twin = next((q for q in names if q != name
                     and all(LOCAL.close(o, e[q]) for o, e in zip(observed, expected))), None)
        if twin:
            findings.append(_("{name}'s gradient is what {twin}'s should be: the terms of {name} and {twin} look "
                              "swapped.").format(name=name, twin=twin))
            evidence[name] = f"gradient of {twin}"
            continue
        ratios = [o / e[name] for o, e in zip(observed, expected) if o is not None and e[name] != 0]
        if ratios and max(ratios) - min(ratios) <= 1e-3 * max(1.0, abs(ratios[0])):
            findings.append(_("{name}'s gradient is {ratio:.4g} times the expected one.").format(name=name, ratio=ratios[0]))
            evidence[name] = f"x{ratios[0]:.4g}"
        else:
            p, e = probes[0], expected[0]
            findings.append(_("{name}'s gradient at x={x:g} is {got}, expected {want}.").format(
                name=name, x=p.x, got=fmt(p.grads.get(name)), want=fmt(e[name])))
            evidence[name] = "different"
    file, line, text = ctx.model_line()
    found = [Diagnosis(
        "param_not_updated",
        sentences(
            _("In your model {name} is the plain number {value}, not a tensor autograd trains: it keeps that value "
              "for the whole training{where}.").format(name=name, value=repr(value), where=code_at(file, line, text)),
            _("Make it like the others (torch.tensor([{value}], requires_grad=True)) and update it after each "
              "backward().").format(value=repr(value))),
        {"parameters": [name], "constant": value}, file, line) for name, value in constants]
    if findings:
        found.insert(0, Diagnosis(
            "model_terms",
            sentences(_("The model's terms are not {model}{where}.").format(model=ctx.spec.model.text,
                                                                             where=code_at(file, line, text)), *findings),
            evidence, file, line,
        ))
    return found


def no_backward(ctx: Context) -> list[Diagnosis]:
    """No backward pass ran because the code never asks for one: .grad stays None.  Only said when the
    program got past the parts still to write (a TODO's NotImplementedError stops it before training)."""
    trace, outcome = ctx.trace, ctx.trace.outcome
    trees = ctx.trees
    if trace.backward_count or trees is None or static.asks_for_gradients(trees):
        return []
    empty_grad = outcome.status == EXCEPTION and outcome.exc_type in ("AttributeError", "TypeError") \
        and "None" in (outcome.message or "")
    if not (outcome.status == FINISHED or empty_grad):  # another error stopped it: that one is the story
        return []
    file, line, text = locate(ctx.submission, r"\.grad\b")
    return [Diagnosis(
        "no_backward",
        _("Your code never calls backward(), so autograd never fills the gradients: every .grad stays None"
          "{where}. Call l.backward() on each sample's loss before using the gradients.").format(
            where=code_at(file, line, text)),
        {"backward_passes": 0}, file, line,
    )]


def unexplained(ctx: Context) -> list[Diagnosis]:
    """The fallback when no detector fits: where the trace first departs from the reference."""
    if ctx.trace.outcome.status != FINISHED and not ctx.trace.steps:
        return []  # the error that stopped the program before training explains it
    failed = [c for c in ctx.checks.values() if c.status == FAIL and c.id not in ("plot", "runs")]
    if not failed:
        return []
    training = ctx.checks.get("training")
    where = training.message if training is not None and training.step is not None else failed[0].message
    return [Diagnosis(
        "unexplained",
        _("No usual mistake matches what was observed. Where it first departs from the reference: {where}").format(
            where=where),
        {"checks": [c.id for c in failed]},
    )]


Detector = Callable[[Context], list[Diagnosis]]

# Every detector, once, in the order its diagnoses are reported.
DETECTORS: tuple[Detector, ...] = (
    initial_values,
    data,
    batch_updates,
    loss_formula,
    model_terms,
    param_replaced,
    grad_not_reset,
    param_not_updated,
    learning_rate_and_sign,
    epochs,
    no_backward,
    from_the_code,
)


def diagnose(
    spec: Spec, trace: Trace, checks: Sequence[CheckResult], submission: Submission
) -> tuple[Diagnosis, ...]:
    """The mistakes behind the failed checks, in report order; nothing when every check that is worth
    points passed."""
    if all(c.status == PASS for c in checks if c.max_points > 0):
        return ()
    ctx = Context(spec, trace, {c.id: c for c in checks}, submission)
    found = _drop_implied([d for detector in DETECTORS for d in detector(ctx)])
    return tuple(found or unexplained(ctx))


def _drop_implied(found: list[Diagnosis]) -> list[Diagnosis]:
    """A batch run is not also 'data' sample by sample: its first loss covers every sample, so no one sample
    matches it (a 'data' read from the batch's mean stands).  What the run showed outranks what is read from
    the code: a diagnosis read from the code is dropped where the run named the same mistake."""
    shown = {d.id for d in found if not d.evidence.get("read_from_code")}
    found = [d for d in found if d.id not in shown or not d.evidence.get("read_from_code")]
    if "batch_updates" not in {d.id for d in found}:
        return found
    return [d for d in found if d.id != "data" or "expected_mean" in d.evidence]

"""Diagnoses read from the code, for a program that stopped before its passes could show anything (an error
at its first lines, a syntax of Python 2, a crash in its first epoch): the data its loop zips (or reads from
a file), the starting values, the rate (or each parameter's own), the epochs, the terms of the model its
forward returns, matched to the spec's by what each does (its derivative), not by its name, a parameter
that records gradients but that no step of the code changes, and gradients that no line ever resets.  Each
says it was read from the code; where the run shows the same mistake, the run's diagnosis stands
(grader/diagnose.py ``_drop_implied``).
"""

from __future__ import annotations

import ast

from grader import static
from grader.check import fmt
from grader.context import LOCAL, Context, Diagnosis, as_written, code_at, numbers_text
from grader.i18n import _, sentences
from grader.reference import model_and_grads
from grader.spec import Spec
from grader.trace import FINISHED, SYNTAX_ERROR, UNREADABLE

def from_the_code(ctx: Context) -> list[Diagnosis]:
    """A program that stopped before the end of its first epoch shows little or nothing to judge by; what its
    code says plainly (the epochs of its training loop, the rate of its updates, the starting values, the
    terms of its model) is named, and said to be read from the code (grader/static.py).  Where the passes it
    made show the same mistake, theirs is the diagnosis (``_drop_implied``)."""
    trace, spec = ctx.trace, ctx.spec
    if trace.backward_count >= spec.samples or trace.outcome.status in (FINISHED, UNREADABLE):
        return []
    trees = ctx.trees
    if trees is None:  # (a syntax error leaves none, unless the code is Python 2's: see static.parse)
        return []
    if trace.outcome.status == SYNTAX_ERROR:
        said = _("Your program could not run, so this is read from its code:")
    elif trace.backward_count:
        said = _("Your program stopped before its first epoch ended, so this is read from its code:")
    else:
        said = _("Your program stopped before training, so this is read from its code:")
    out = []
    listed = static.training_data(trees)
    if listed is not None and (listed[0], listed[1]) != (tuple(spec.x), tuple(spec.y)):
        xs, ys, read = listed
        file, line, text = as_written(ctx.submission, read)
        out.append(Diagnosis("data", sentences(said, _("the training goes through x = {got_x}, y = {got_y}; the "
                                                       "assignment's data are x = {xs}, y = {ys}{where}.").format(
            got_x=numbers_text(xs), got_y=numbers_text(ys), xs=numbers_text(spec.x), ys=numbers_text(spec.y),
            where=code_at(file, line, text))), {"x": list(xs), "y": list(ys), "read_from_code": True}, file, line))
    elif listed is None:
        out.extend(_data_from_file(ctx, said))
    terms = _code_terms(ctx)
    other = {n: r for n, r in _starts_by_role(ctx, terms).items() if not LOCAL.close(r.value, spec.initial[n])}
    if other:
        first = next(iter(other.values()))
        out.append(Diagnosis("initial_values", sentences(said, _("{said}{where}. Start from the values the assignment "
                                                                 "gives.").format(
            said=", ".join(_("{name} starts at {got} instead of {want}").format(name=n, got=fmt(r.value),
                                                                                 want=fmt(spec.initial[n]))
                           for n, r in other.items()), where=code_at(first.unit, first.line, first.text))),
            {"observed": {n: r.value for n, r in other.items()}, "read_from_code": True}, first.unit, first.line))
    rate = static.learning_rate(trees)
    if rate is not None and abs(rate.value - spec.learning_rate) > 1e-12:
        out.append(Diagnosis("learning_rate", sentences(said, _("the updates use a learning rate of {rate:g}{where}; "
                                                                "the assignment's is {lr:g}.").format(
            rate=rate.value, where=code_at(rate.unit, rate.line, rate.text), lr=spec.learning_rate)),
            {"estimated": rate.value, "expected": spec.learning_rate, "read_from_code": True}, rate.unit, rate.line))
    elif rate is None:
        out.extend(_rates_per_parameter(ctx, said))
    out.extend(_terms_from_the_code(ctx, said, terms))
    out.extend(_never_stepped(ctx, said, terms))
    out.extend(_never_reset(ctx, said))
    stopped = trace.outcome
    loop = static.epochs(trees, (stopped.file, stopped.line) if stopped.file and stopped.line else None)
    if loop is not None and loop.value != spec.epochs:
        out.append(Diagnosis("epochs", sentences(said, _("the training loop runs {n:g} epochs{where}; the assignment "
                                                         "asks for {epochs}.").format(
            n=loop.value, where=code_at(loop.unit, loop.line, loop.text), epochs=spec.epochs)),
            {"epochs": loop.value, "expected": spec.epochs, "read_from_code": True}, loop.unit, loop.line))
    return out


CodeTerms = tuple[static.Model, dict[str, str], list[str], list[str]]  # the model, code_roles' answer


def _code_terms(ctx: Context) -> CodeTerms | None:
    """The code's one model with its names' roles (see ``code_roles``), its derivatives taken at the values
    the code starts its names at; None unless the code has exactly one forward that is plain arithmetic."""
    if len(ctx.code_models) != 1:
        return None
    model = ctx.code_models[0]
    starts = {t: r.value for t, r in static.starting_values(ctx.trees, list(model.names.values())).items()}
    return (model, *code_roles(ctx.spec, model, {**ctx.code_constants, **starts}))


def _starts_by_role(ctx: Context, terms: CodeTerms | None) -> dict[str, "static.Read"]:
    """The literal starting value of each of the spec's parameters, by the name that plays it in the code's
    one model (``d = torch.Tensor([3.0])`` where d is the constant term), else by the spec's own names."""
    names = {n: n for n in ctx.spec.param_names}
    if terms is not None:
        names = {role: text for text, role in terms[1].items()} or names
    read = static.starting_values(ctx.trees, list(names.values()))
    return {role: read[text] for role, text in names.items() if text in read}


TERM_XS = (0.5, 1.5, 2.5)  # where a term's derivative is compared: x**2, x and 1 differ at each


def _spec_terms(spec: Spec) -> dict[str, str]:
    """Each parameter's term in the spec's model as written: the summand it is in (``w2 * x`` for w2)."""
    summands: list[ast.expr] = []

    def split(node: ast.expr) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            split(node.left)
            split(node.right)
        else:
            summands.append(node)

    split(spec.model.tree)
    terms: dict[str, str] = {}
    for summand in summands:
        for node in ast.walk(summand):
            if isinstance(node, ast.Name) and node.id in spec.param_names:
                terms.setdefault(node.id, ast.unparse(summand))
    return terms


def code_roles(spec: Spec, model: static.Model, values: dict[str, float]) -> tuple[dict[str, str], list[str], list[str]]:
    """Which of the spec's parameters each name of the code's model plays, by its derivative at three inputs
    (the coefficient of x**2, of x, the constant); the spec's parameters no name plays; the names that play
    none.  ``values``: what the code sets its names to, where it says (1.0 otherwise)."""
    want = {n: [model_and_grads(spec, spec.initial, x)[1][n] for x in TERM_XS] for n in spec.param_names}
    roles: dict[str, str] = {}
    for text in model.names.values():
        got = [model.derivative(text, x, values) for x in TERM_XS]
        role = next((n for n in spec.param_names if n not in roles.values()
                     and all(LOCAL.close(g, w) for g, w in zip(got, want[n]))), None)
        if role is not None:
            roles[text] = role
    missing = [n for n in spec.param_names if n not in roles.values()]
    return roles, missing, [t for t in model.names.values() if t not in roles]


def _terms_from_the_code(ctx: Context, said: str, terms: CodeTerms | None) -> list[Diagnosis]:
    """The terms of the model the code's one forward returns, against the spec's, for a program that stopped
    before training."""
    if terms is None:
        return []
    model, _roles, missing, extra = terms
    if not (missing or extra):
        return []
    written = _spec_terms(ctx.spec)
    findings = []
    if missing:
        findings.append(_("your model has no term {terms} of the assignment's {model}").format(
            terms=_(" and ").join(f"`{written.get(n, n)}`" for n in missing), model=ctx.spec.model.text))
    if extra:
        findings.append(_("{names} in your model plays none of the assignment's parameters").format(
            names=", ".join(f"`{t}`" for t in extra)))
    file, line, text = as_written(ctx.submission, model)
    return [Diagnosis("model_terms", sentences(said, _("{findings}{where}.").format(
        findings=_("; ").join(findings), where=code_at(file, line, text))),
        {"missing": missing, "extra": extra, "read_from_code": True}, file, line)]


def _data_from_file(ctx: Context, said: str) -> list[Diagnosis]:
    """Samples the training loop takes from a file (``pd.read_csv(...)``), not the data the assignment
    writes in the code."""
    read = static.data_from_file(ctx.trees)
    if read is None:
        return []
    file, line, text = as_written(ctx.submission, read)
    spec = ctx.spec
    return [Diagnosis("data", sentences(said, _("the training samples are read from a file{where}, not the "
                                                "assignment's data x = {xs}, y = {ys}.").format(
        where=code_at(file, line, text), xs=numbers_text(spec.x), ys=numbers_text(spec.y))),
        {"from_file": True, "read_from_code": True}, file, line)]


def _rates_per_parameter(ctx: Context, said: str) -> list[Diagnosis]:
    """Updates that give the parameters rates of their own, some not the assignment's."""
    rates = static.rates(ctx.trees)
    other = [r for r in rates if abs(r.value - ctx.spec.learning_rate) > 1e-12]
    if len({r.value for r in rates}) < 2 or not other:
        return []
    file, line, text = as_written(ctx.submission, other[0])
    return [Diagnosis("learning_rate", sentences(said, _("the updates use the learning rates {rates}{where}; the "
                                                         "assignment's is {lr:g} for every parameter.").format(
        rates=", ".join(f"{r.value:g}" for r in rates), where=code_at(file, line, text), lr=ctx.spec.learning_rate)),
        {"estimated": [r.value for r in rates], "expected": ctx.spec.learning_rate, "read_from_code": True},
        file, line)]


def _never_stepped(ctx: Context, said: str, terms: CodeTerms | None) -> list[Diagnosis]:
    """A name of the code's one model that records gradients but that no statement of the code changes,
    while another is updated: it keeps its starting value.  Nothing is said where the steps are left to an
    optimizer or change a name that stands for a parameter (a loop over a list of them, a function's
    argument): then the text does not show which parameters move (see ``static.stepped``)."""
    steps = static.stepped(ctx.trees)
    if terms is None or steps is None:
        return []
    names = list(terms[0].names.values())

    def covers(step: str, name: str) -> bool:
        return name == step or name.startswith((f"{step}[", f"{step}."))

    if not any(covers(step, name) for step in steps for name in names):
        return []  # no parameter is updated at all: an unfinished training, not one parameter forgotten
    frozen = [(name, made) for name in names if not any(covers(step, name) for step in steps)
              for made in [static.made_for_grad(ctx.trees, name.split("[")[0])] if made is not None]
    if not frozen:
        return []
    file, line, text = as_written(ctx.submission, frozen[0][1])
    return [Diagnosis("param_not_updated", sentences(said, _("{names} records gradients{where}, but no update in "
                                                             "your code changes it, so it keeps its starting "
                                                             "value. Update every parameter after each "
                                                             "backward(): p.data = p.data - lr * p.grad.data.").format(
        names=", ".join(f"`{name}`" for name, _made in frozen), where=code_at(file, line, text))),
        {"parameters": [name for name, _made in frozen], "read_from_code": True}, file, line)]


def _never_reset(ctx: Context, said: str) -> list[Diagnosis]:
    """A training loop whose gradients no line of the code ever resets: each backward() adds to the last."""
    read = static.backward_never_reset(ctx.trees)
    if read is None:
        return []
    file, line, text = as_written(ctx.submission, read)
    return [Diagnosis("grad_not_reset", sentences(said, _("no line of your code resets the gradients, so each "
                                                          "backward(){where} adds its gradient to the ones before. "
                                                          "Reset each parameter's gradient after its update: "
                                                          "w.grad.data.zero_() (or w.grad = None).").format(
        where=code_at(file, line, text))), {"never_reset": True, "read_from_code": True}, file, line)]

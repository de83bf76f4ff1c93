"""What the code says when the run could not: the training loop's epochs, the learning rate and the starting
values, read from the source of a program that stopped before its first backward pass (pure functions on
``ast`` trees).

A teaching assistant reading ``for epoch in range(1000):`` names the epochs even when the program crashes at
its first line; so does the kit, but only then: whenever backward passes ran, the diagnoses rest on what they
did (grader/diagnose.py), never on the text.  Only plain literals are read (``range(1000)``, ``- 0.02 *
w.grad``, ``w1 = torch.tensor([2.0])``), or a name the code binds once to such a number (``lr = 0.02``,
``range(n_epochs)``): anything computed is left alone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from grader.formula import Formula, FormulaError
from grader.protocol import visible  # the student's code, made safe to show


@dataclass(frozen=True)
class Read:
    """One value read from the code, and where: the unit (file, or ``file, cell N``) and the line."""

    value: float
    unit: str
    line: int
    text: str
    last: int = 0  # the last line of what was read (a loop's body), where that matters


def parse(units: Sequence[tuple[str, str]]) -> list[tuple[str, ast.Module]] | None:
    """Each unit's tree; None when any unit does not parse (then nothing is read).  Code written for
    Python 2, as older tutorials of this lecture are, is read with its print statements taken as calls
    (only ever read, never run: Python 3 rejects it, and its report says so)."""
    trees = []
    for name, source in units:
        try:
            trees.append((name, ast.parse(source)))
        except (SyntaxError, ValueError):
            try:
                trees.append((name, ast.parse(_print_calls(source))))
            except (SyntaxError, ValueError):
                return None
    return trees


_PRINT_STATEMENT = re.compile(r"(\s*)print(?![\w(])")  # anchored, no nested repeats: linear on any line


def _print_calls(source: str) -> str:
    """``print "a", x`` as ``print("a", x)``, line by line (a statement over several lines does not parse,
    and then nothing is read).  Plain string operations around one anchored match: the student's text
    cannot make it slow."""
    lines = []
    for line in source.splitlines():
        match = _PRINT_STATEMENT.match(line)
        if match is None:
            lines.append(line)
            continue
        rest = line[match.end():].strip()
        lines.append(f"{match.group(1)}print({rest[:-1] if rest.endswith(',') else rest})")
    return "\n".join(lines)


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _asks(node: ast.AST) -> bool:
    """``l.backward()``, ``torch.autograd.backward(l)``, ``torch.autograd.grad(...)``, or ``backward`` imported."""
    if isinstance(node, ast.Attribute):
        return node.attr == "backward" or (node.attr == "grad" and ast.unparse(node.value).endswith("autograd"))
    return isinstance(node, ast.Name) and node.id == "backward"


def asks_for_gradients(trees: list[tuple[str, ast.Module]]) -> bool:
    """Whether the code asks autograd for gradients anywhere."""
    return any(_asks(node) for _, tree in trees for node in ast.walk(tree))


def _training_loops(trees: list[tuple[str, ast.Module]]) -> list[tuple[str, ast.For | ast.While]]:
    """Every loop around a backward() call, of any kind, outer ones first, with its unit."""
    return [(unit, node) for unit, tree in trees for node in ast.walk(tree)
            if isinstance(node, (ast.For, ast.While)) and any(_asks(n) for n in ast.walk(node))]


def _value(node: ast.AST, named: Mapping[str, float]) -> float | None:
    """A plain number, or a name the code binds once to one (in ``named``)."""
    return named.get(node.id) if isinstance(node, ast.Name) else _number(node)



def _named_numbers(trees: list[tuple[str, ast.Module]]) -> dict[str, float]:
    """The names the code binds once to a plain number (``lr = 0.02``, ``epochs = 300``), anywhere."""
    once = _bound_once(trees)
    places = {name: _value_of(name, once) for name in once}
    return {**{name: _number(place[1].value) for name, place in places.items()
               if place is not None and _number(place[1].value) is not None}, **constants(trees)}


def _range_count(loop: ast.For, named: Mapping[str, float]) -> float | None:
    """N of ``for _ in range(N)`` or ``range(0, N)``, N a number or a name bound once to one."""
    call = loop.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("range", "xrange")):
        return None
    args = [_value(a, named) for a in call.args]
    if len(args) == 1:
        return args[0]
    if len(args) == 2 and args[0] == 0:
        return args[1]
    return None


def epochs(trees: list[tuple[str, ast.Module]], after: tuple[str, int] | None = None) -> Read | None:
    """The count of the outermost ``for ... in range(N)`` around the backward() call, when there is one.
    Where the code has several training loops (a notebook's exercises), ``after`` (the unit and line where
    the program stopped) picks the one it stopped in, else the first after it: the training it was about
    to run."""
    found = _training_loops(trees)
    outer = [(name, loop) for name, loop in found
             if not any(other is not loop and loop in ast.walk(other) for _, other in found)]
    place = _place(trees, *after) if after is not None else None
    if len(outer) > 1 and place is not None:
        later = sorted((_place(trees, name, loop.lineno), name, loop) for name, loop in outer
                       if _place(trees, name, loop.end_lineno or loop.lineno) >= place)
        outer = [(name, loop) for _, name, loop in later[:1]]
    named = _named_numbers(trees)
    if len(outer) != 1 or not isinstance(outer[0][1], ast.For) or _range_count(outer[0][1], named) is None:
        return None  # the outermost loop is not a plain range(N): its count is not in the text
    name, loop = outer[0]
    text = visible(f"for {ast.unparse(loop.target)} in {ast.unparse(loop.iter)}:", 200)
    return Read(_range_count(loop, named), name, loop.lineno, text, loop.end_lineno or loop.lineno)


def _place(trees: list[tuple[str, ast.Module]], unit: str, line: int) -> tuple[int, int] | None:
    """A line's position in the code, in the order the units run (a notebook's cells); None for a unit the
    code does not have."""
    units = [name for name, _ in trees]
    return (units.index(unit), line) if unit in units else None


def after(trees: list[tuple[str, ast.Module]], read: Read, place: tuple[str, int]) -> bool:
    """Whether ``place`` (a unit and a line) comes after all of what was read: below a loop's last line, or
    in a later cell."""
    here, end = _place(trees, *place), _place(trees, read.unit, read.last or read.line)
    return here is not None and end is not None and here > end


def _rate_of(expression: ast.AST, named: Mapping[str, float]) -> float | None:
    """c in ``p - c * p.grad`` or ``c * p.grad.data`` (either order), c a number or a name the module binds
    once to one (``lr = 0.02``, in ``named``); None for anything else."""
    if isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.Sub):
        expression = expression.right
    if isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.Mult):
        for constant, other in ((expression.left, expression.right), (expression.right, expression.left)):
            value = _value(constant, named)
            if value is not None and ".grad" in ast.unparse(other):
                return value
    return None


def learning_rate(trees: list[tuple[str, ast.Module]]) -> Read | None:
    """The one literal rate of every update that reads a gradient (``w.data = w.data - 0.02 * w.grad.data``,
    ``w -= 0.02 * w.grad``, ``SGD(..., lr=0.02)``); None when there is none or they differ."""
    found = rates(trees)
    if not found or len({r.value for r in found}) != 1:
        return None
    return found[0]


def rates(trees: list[tuple[str, ast.Module]]) -> list[Read]:
    """The rate of each update that reads a gradient and writes its rate as a number, or as a name bound
    once to one, in the order written (one per parameter where the code gives each its own)."""
    named = _named_numbers(trees)
    rates = []
    for name, tree in trees:
        for node in ast.walk(tree):
            value = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                value = _rate_of(node.value, named)
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub):
                value = _rate_of(node.value, named)
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("SGD"):
                value = next((_value(k.value, named) for k in node.keywords if k.arg == "lr"), None)
            if value is not None:
                rates.append(Read(value, name, node.lineno, visible(ast.unparse(node), 200)))
    return sorted(rates, key=lambda r: _place(trees, r.unit, r.line))


def _changed(node: ast.AST, in_loop: bool) -> ast.expr | None:
    """What one statement changes of a tensor, without its ``.data``: the target of ``w.data = ...`` (any
    value), of ``w -= ...``, of ``w = w - ...`` (a name rebound to a value that reads it) or of any assignment
    inside a loop, of an in-place call (``w.data.sub_(...)``, ``w.copy_(...)``); never a gradient's reset
    (``w.grad.zero_()``).  None otherwise."""
    target = None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        text = ast.unparse(node.targets[0])
        if in_loop or text.endswith(".data") or any(ast.unparse(n) == text for n in ast.walk(node.value)):
            target = node.targets[0]
    elif isinstance(node, ast.AugAssign):
        target = node.target
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_") \
            and node.func.attr != "requires_grad_":
        target = node.func.value
    if isinstance(target, ast.Attribute) and target.attr == "data":
        target = target.value
    if target is None or _on_a_gradient(target):
        return None
    return target


def _on_a_gradient(node: ast.expr) -> bool:
    """``w.grad``, ``w.grad.data``: a gradient, not the tensor it belongs to."""
    return ".grad" in f"{ast.unparse(node)}."


_OPTIMIZERS = ("step", "SGD", "Adam")  # a step the code leaves to torch.optim: what it updates is not in the text


def stepped(trees: list[tuple[str, ast.Module]]) -> set[str] | None:
    """What the code's statements change of its tensors, each as written (``w``, ``self.w1``, ``w[0]``).
    None when there is none (an unfinished program), when an optimizer makes the steps, or when a step
    changes a name that stands for something else each time (a loop's target or an argument: ``for p in
    params: p.data -= ...``, ``w[i]``): then which parameters move is not in the text."""
    stands_for = {n.id for _u, t in trees for loop in ast.walk(t) if isinstance(loop, (ast.For, ast.comprehension))
                  for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    stands_for |= {a.arg for _u, t in trees for a in ast.walk(t) if isinstance(a, ast.arg) and a.arg != "self"}
    in_loops = {id(n) for _u, t in trees for loop in ast.walk(t) if isinstance(loop, (ast.For, ast.While))
                for n in ast.walk(loop)}
    found: set[str] = set()
    for _unit, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in _OPTIMIZERS:
                return None
            target = _changed(node, id(node) in in_loops)
            if target is None:
                continue
            base = target
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                if isinstance(base, ast.Subscript) and _number(base.slice) is None:
                    return None
                base = base.value
            if isinstance(base, ast.Name) and base.id in stands_for:
                return None
            found.add(ast.unparse(target))
    return found or None  # (no step at all: an unfinished program, whose run names what it lacks)


def resets_gradients(trees: list[tuple[str, ast.Module]]) -> bool | None:
    """Whether any line of the code resets a gradient, in any form (``w.grad.data.zero_()``, ``w.grad.fill_(0)``
    or any other in-place call on a gradient, ``w.grad = None``, ``w.grad.data *= 0``, ``del w.grad``,
    ``optimizer.zero_grad()``); None when the code takes its gradients from ``torch.autograd.grad`` (they are
    returned, never added up in ``.grad``) and so has nothing to reset."""
    found = False
    for _unit, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if func.endswith("autograd.grad") or func == "grad":
                    return None
                found |= func.endswith("zero_grad") or (
                    isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_")
                    and _on_a_gradient(node.func.value))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = [node.target] if isinstance(node, ast.AugAssign) else node.targets
                found |= any(ast.unparse(t).endswith((".grad", ".grad.data")) for t in targets)
    return found


def backward_never_reset(trees: list[tuple[str, ast.Module]]) -> Read | None:
    """The first ``backward()`` call inside a loop, where no line of the code resets a gradient (see
    ``resets_gradients``) and the loop keeps its parameters: it neither rebinds a name to a step
    (``w = w - lr * w.grad``) nor makes new tensors that record gradients, either of which starts each
    ``.grad`` afresh.  None otherwise."""
    if resets_gradients(trees) is not False:
        return None
    for unit, loop in _training_loops(trees):
        calls = sorted((n for n in ast.walk(loop) if isinstance(n, ast.Call) and _asks(n.func)),
                       key=lambda n: n.lineno)
        if not calls:
            continue
        if any(_renews(node) for node in ast.walk(loop)):
            return None
        return Read(0.0, unit, calls[0].lineno, visible(ast.unparse(calls[0]), 200))
    return None


def _renews(node: ast.AST) -> bool:
    """``w = w - lr * w.grad`` (a plain name rebound to a step), or a new tensor that records gradients."""
    if isinstance(node, ast.Assign) and ".grad" in ast.unparse(node.value):
        read = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        if any(isinstance(t, ast.Name) and t.id in read for t in node.targets):
            return True
    return isinstance(node, ast.Call) and (
        any(k.arg == "requires_grad" for k in node.keywords) or ast.unparse(node.func).endswith(
            ("requires_grad_", "Parameter")))


def made_for_grad(trees: list[tuple[str, ast.Module]], text: str) -> Read | None:
    """Where the code makes ``text`` a tensor that records gradients: ``torch.tensor(..., requires_grad=
    True)``, ``w.requires_grad = True``, ``w.requires_grad_()`` or ``nn.Parameter(...)``; None if it does not."""
    for unit, tree in trees:
        for node in ast.walk(tree):
            asks = False
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = ast.unparse(node.targets[0]), node.value
                asks = (target == f"{text}.requires_grad" and _is_true(value)) or (
                    target == text and isinstance(value, ast.Call)
                    and (any(k.arg == "requires_grad" and _is_true(k.value) for k in value.keywords)
                         or ast.unparse(value.func).split(".")[-1] == "Parameter"))
            elif isinstance(node, ast.Call):
                asks = ast.unparse(node.func) == f"{text}.requires_grad_"
            if asks:
                return Read(0.0, unit, node.lineno, visible(ast.unparse(node), 200))
    return None


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


_READERS = ("read_csv", "read_excel", "read_table", "loadtxt", "genfromtxt", "fromfile", "open")


def data_from_file(trees: list[tuple[str, ast.Module]]) -> Read | None:
    """Where the code reads its training samples from a file: the ``zip(a, b)`` (or the one name) the loop
    around backward() goes through, followed through the assignments it was made from (each name bound once,
    at most a few back) to a call of a file reader (``pd.read_csv``, ``np.loadtxt``, ``open``, ...).  None
    otherwise."""
    bound = _bound_once(trees)
    for _unit, loop in _training_loops(trees):
        found = _reader_behind(loop.iter, bound, depth=4) if isinstance(loop, ast.For) else None
        if found is not None:
            unit, node = found
            return Read(0.0, unit, node.lineno, visible(ast.unparse(node), 200))
    return None


def _reader_behind(expression: ast.AST, bound: dict[str, tuple[str, ast.Assign]],
                   depth: int) -> tuple[str, ast.Assign] | None:
    """The assignment whose value calls a file reader, among those ``expression``'s names were made from,
    at most ``depth`` assignments back."""
    if depth == 0:
        return None
    for node in ast.walk(expression):
        if not (isinstance(node, ast.Name) and node.id in bound):
            continue
        unit, assign = bound[node.id]
        if any(isinstance(c, ast.Call) and ast.unparse(c.func).split(".")[-1] in _READERS
               for c in ast.walk(assign.value)):
            return unit, assign
        deeper = _reader_behind(assign.value, bound, depth - 1)
        if deeper is not None:
            return deeper
    return None


_MAKERS = ("tensor", "Tensor", "FloatTensor", "Variable", "Parameter")


def _start_value(node: ast.AST) -> float | None:
    """v of ``torch.tensor([v])``, ``torch.Tensor([v])``, ``Variable(torch.Tensor([v]))``, ``torch.tensor(v)``."""
    if not (isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in _MAKERS and node.args):
        return None
    first = node.args[0]
    if isinstance(first, ast.Call):
        return _start_value(first)
    if isinstance(first, (ast.List, ast.Tuple)) and len(first.elts) == 1:
        first = first.elts[0]
    return _number(first)


def starting_values(trees: list[tuple[str, ast.Module]], names: Sequence[str]) -> dict[str, Read]:
    """The literal starting value of each of ``names`` (the code's text for a parameter): its first assignment
    at the module level, else its one assignment anywhere (inside ``main()``, say)."""
    found: dict[str, Read] = {}
    for unit, tree in trees:
        for node in tree.body:  # the module level: where the skeleton makes them
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
                value = _start_value(node.value)
                if target in names and target not in found and value is not None:
                    found[target] = Read(value, unit, node.lineno, visible(ast.unparse(node), 200))
    once = _bound_once(trees)  # made inside ``main()`` or an ``if __name__ == "__main__":`` block, once
    for name in names:
        place = _value_of(name, once) if name not in found else None
        if place is not None and _start_value(place[1].value) is not None:
            unit, node = place
            found[name] = Read(_start_value(node.value), unit, node.lineno, visible(ast.unparse(node), 200))
    return found


def _numbers(node: ast.AST) -> tuple[float, ...] | None:
    """The numbers of a literal list or tuple (``[1.0, 2.0]``, or a column ``[[1.0], [2.0]]``); None if any
    element is not a plain number."""
    if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) < 2:
        return None
    values = []
    for element in node.elts:
        if isinstance(element, (ast.List, ast.Tuple)) and len(element.elts) == 1:
            element = element.elts[0]
        value = _number(element)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


_ARRAYS = ("array", "asarray", "tensor", "Tensor", "FloatTensor")


def _listed(node: ast.AST) -> tuple[float, ...] | None:
    """The numbers of a literal list, bare or made into an array (``np.array([2, 4, 6])``,
    ``torch.tensor([[1.0], [2.0]])``)."""
    if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in _ARRAYS and len(node.args) == 1:
        node = node.args[0]
    return _numbers(node)


def where_listed(trees: list[tuple[str, ast.Module]], values: Sequence[float]) -> Read | None:
    """The first assignment in the code of a literal list of exactly these numbers (``x_data = [1.0, 2.0]``)."""
    for unit, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _listed(node.value) == tuple(values):
                return Read(float(len(values)), unit, node.lineno, visible(ast.unparse(node), 200))
    return None


def _bound_once(trees: list[tuple[str, ast.Module]]) -> dict[str, tuple[str, ast.Assign]]:
    """Each name the code binds exactly once, by a plain assignment anywhere (the module, an ``if __name__ ==
    "__main__":`` block, a ``main()``; ``x, y = ...`` binds both), with the assignment; a name bound twice, or
    bound in any other way too (a loop's target, an argument, ``+=``), is left out: which value a loop sees
    is then not in the text."""
    plain: dict[str, tuple[str, ast.Assign]] = {}
    binds: dict[str, int] = {}
    for unit, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                for name in ast.walk(node.targets[0]):
                    if isinstance(name, ast.Name):
                        plain[name.id] = (unit, node)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                binds[node.id] = binds.get(node.id, 0) + 1
            elif isinstance(node, ast.arg):
                binds[node.arg] = binds.get(node.arg, 0) + 2  # never "once": its value comes from a call
    return {name: place for name, place in plain.items() if binds.get(name) == 1}


def _value_of(name: str, bound: dict[str, tuple[str, ast.Assign]]) -> tuple[str, ast.Assign] | None:
    """The assignment that binds ``name`` alone (``name = value``), where it is bound once."""
    place = bound.get(name)
    if place is None or not (isinstance(place[1].targets[0], ast.Name) and place[1].targets[0].id == name):
        return None
    return place


def training_data(trees: list[tuple[str, ast.Module]]) -> tuple[tuple[float, ...], tuple[float, ...], Read] | None:
    """The samples the training loop goes through, when it says so plainly: the ``zip(a, b)`` of the loop
    around backward(), ``a`` and ``b`` each bound once (see ``_bound_once``) to a literal list of numbers."""
    bound = _bound_once(trees)
    found = {}  # (xs, ys) -> where xs is written
    for _unit, loop in _training_loops(trees):
        call = loop.iter if isinstance(loop, ast.For) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "zip" and len(call.args) == 2 \
                and all(isinstance(a, ast.Name) and _value_of(a.id, bound) for a in call.args):
            (unit, first), (_, second) = (_value_of(a.id, bound) for a in call.args)
            xs, ys = _listed(first.value), _listed(second.value)
            if xs is not None and ys is not None:
                found.setdefault((xs, ys), (unit, first))
    if len(found) != 1:
        return None
    (xs, ys), (unit, node) = next(iter(found.items()))
    return xs, ys, Read(float(len(xs)), unit, node.lineno, visible(ast.unparse(node), 200))


def number_lists(trees: list[tuple[str, ast.Module]], most: int = 24) -> list[tuple[float, ...]]:
    """Every literal list of two or more plain numbers in the code, outermost first, without repeats (at
    most ``most``): the candidates for the data the program trains on, which the diagnoses
    accept only where the backward passes confirm them."""
    found: dict[tuple[float, ...], None] = {}
    for _unit, tree in trees:
        for node in ast.walk(tree):
            values = _numbers(node)
            if values is not None:
                found.setdefault(values)
                if len(found) >= most:
                    return list(found)
    return list(found)


# -- the model as the code writes it ----------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    """The expression a forward function returns, as a formula (grader/formula.py) of ``x`` (its input,
    whatever the student called it) and of its other names, each the text the code reads it by (``w_1``,
    ``self.w1``, ``w[0]``); where it is written."""

    formula: Formula
    names: Mapping[str, str]  # the formula's name -> the code's text for it
    unit: str
    line: int
    text: str

    def value(self, x: float, values: Mapping[str, float]) -> float | None:
        """The model at ``x`` with the code's names at ``values`` (keyed by the code's text); None when a
        name has no value or the arithmetic fails."""
        env = {"x": x}
        for name, text in self.names.items():
            if values.get(text) is None:
                return None
            env[name] = values[text]
        try:
            return float(self.formula.value(env))
        except (ArithmeticError, ValueError, FormulaError):
            return None

    def derivative(self, name: str, x: float, values: Mapping[str, float]) -> float | None:
        """d model / d ``name`` (the code's text) at ``x``."""
        env = {"x": x, **{n: values.get(t, 1.0) for n, t in self.names.items()}}
        inner = next((n for n, t in self.names.items() if t == name), None)
        if inner is None:
            return None
        try:
            return float(self.formula.evaluate(env, wrt=(inner,))[1][inner])
        except (ArithmeticError, ValueError, FormulaError):
            return None


class _Names(ast.NodeTransformer):
    """Each name, attribute or subscript other than the input becomes a plain name ``_k``."""

    def __init__(self, arg: str) -> None:
        self.arg = arg
        self.texts: dict[str, str] = {}

    def _name(self, node: ast.expr) -> ast.expr:
        text = ast.unparse(node)
        if text == self.arg:
            return ast.copy_location(ast.Name("x", ast.Load()), node)
        if any(isinstance(n, ast.Name) and n.id == self.arg for n in ast.walk(node)):
            raise FormulaError("the input inside an attribute or subscript")
        name = next((k for k, t in self.texts.items() if t == text), f"_{len(self.texts)}")
        self.texts[name] = text
        return ast.copy_location(ast.Name(name, ast.Load()), node)

    visit_Name = visit_Attribute = visit_Subscript = _name


def _returned(function: ast.FunctionDef) -> ast.expr | None:
    """The one expression the function returns; a local name assigned once is read through
    (``y_pred = w * x; return y_pred``)."""
    returns = [n for n in ast.walk(function) if isinstance(n, ast.Return)]
    if len(returns) != 1 or returns[0].value is None:
        return None
    value = returns[0].value
    if isinstance(value, ast.Name):
        assigned = [n for n in function.body if isinstance(n, ast.Assign) and len(n.targets) == 1
                    and isinstance(n.targets[0], ast.Name) and n.targets[0].id == value.id]
        if len(assigned) == 1:
            value = assigned[0].value
    return value


def forward_models(trees: list[tuple[str, ast.Module]], function: str) -> list[Model]:
    """The model of every function called ``function`` (module level or a method) whose one return is
    plain arithmetic of its input and other names: what the student's forward computes, as written."""
    found = []
    for unit, tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef) and node.name == function):
                continue
            args = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
            expression = _returned(node)
            if not args or expression is None:
                continue
            names = _Names(args[0])
            try:
                formula = Formula.parse(ast.unparse(names.visit(_copy(expression))))
            except FormulaError:
                continue
            if "x" not in formula.names:
                continue
            found.append(Model(formula, dict(names.texts), unit, expression.lineno,
                               visible(f"return {ast.unparse(expression)}", 200)))
    return found


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def constants(trees: list[tuple[str, ast.Module]]) -> dict[str, float]:
    """Module-level names bound once to a plain number (``b = 1.0``): a term the model holds constant."""
    seen: dict[str, list[float | None]] = {}
    for _unit, tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        seen.setdefault(target.id, []).append(_number(node.value))
    return {name: values[0] for name, values in seen.items() if len(values) == 1 and values[0] is not None}

"""How the training called the student's functions, read from the source at the line where backward() ran
(pure functions; the ``ast`` module only).

After the run the grader calls the student's forward and loss at hidden points, and it calls them the way
the training did: ``loss(x, y)`` as in the lecture, ``loss(y_pred, y)`` with a prediction, ``loss()``
reading the loop's x and y, ``forward(x, b)`` with a parameter as an argument, ``model(x)``.  The child
says at which line each backward pass ran; this module finds there the tensor backward() ran on, the
assignment that made it, the call in that assignment (the loss, or the model inside a loss written in
place) and what each argument was: the sample's x or y, the prediction, a parameter, a constant.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Sequence

X, Y, PRED, PARAM, CONST, UNKNOWN = "x", "y", "pred", "param", "const", "unknown"
REDUCTIONS = {"sum", "mean", "squeeze", "reshape", "view", "float", "double"}  # l.sum().backward()


@dataclass(frozen=True)
class Arg:
    """One argument of a call: ``what`` it was (X, Y, PRED, PARAM, CONST or UNKNOWN), with the parameter's
    name, the constant's value or the call that made the prediction."""

    what: str
    name: str = ""
    value: float = 0.0
    call: "Site | None" = None


@dataclass(frozen=True)
class Site:
    """A call of a student function: the callee as written (``loss``, ``self.loss``, ``model``) and its
    arguments."""

    callee: str
    args: tuple[Arg, ...]
    line: int


@dataclass(frozen=True)
class Chain:
    """What led to a backward pass: the loss call (None when the loss is written in place or computed by a
    function that is not the student's), the call that made the prediction, and the names the enclosing
    for loop binds (the program's names for x and y, when it binds two)."""

    loss: Site | None
    forward: Site | None
    loop: tuple[str, ...] = ()


def text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - a node unparse cannot write
        return ""


def unit_source(units: Sequence[tuple[str, str]], file: str | None) -> str | None:
    """The source of the unit a file name from the child names (``hw.py``, ``hw.ipynb, cell 3``)."""
    if len(units) == 1:
        return units[0][1]
    for name, source in units:
        if file and (file == name or file.endswith(name) or name.endswith(file)):
            return source
    return None


class _Scope:
    """The statements around one line: the innermost function (or module) that holds it, the for loops
    around it, and the assignments before it in that function."""

    def __init__(self, tree: ast.Module, line: int) -> None:
        self.tree, self.line = tree, line
        self.function: ast.AST = tree
        self.loops: list[ast.For] = []
        self._find(tree)

    def _find(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            start, end = getattr(child, "lineno", None), getattr(child, "end_lineno", None)
            if start is None or not start <= self.line <= (end or start):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.function, self.loops = child, []
            elif isinstance(child, (ast.For, ast.AsyncFor)):
                self.loops.append(child)
            self._find(child)

    def assigned(self, name: str, before: int) -> ast.expr | None:
        """The value last assigned to ``name`` before line ``before`` in this scope."""
        best, best_line = None, -1
        for node in ast.walk(self.function):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not self.function:
                continue
            if isinstance(node, ast.Assign) and node.lineno <= before and node.lineno > best_line:
                if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                    best, best_line = node.value, node.lineno
            elif isinstance(node, ast.AnnAssign) and node.value is not None and node.lineno <= before \
                    and isinstance(node.target, ast.Name) and node.target.id == name and node.lineno > best_line:
                best, best_line = node.value, node.lineno
        return best

    def loop_names(self) -> tuple[str, ...]:
        """The names the innermost for loop that binds two names binds (``for x, y in zip(...)``)."""
        for loop in reversed(self.loops):
            target = loop.target
            if isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2 \
                    and all(isinstance(e, ast.Name) for e in target.elts):
                return tuple(e.id for e in target.elts)  # type: ignore[union-attr]
        return ()


def _backward_at(tree: ast.Module, line: int) -> ast.expr | None:
    """The tensor backward() was called on at ``line``: ``l`` in ``l.backward()``, the argument of
    ``torch.autograd.backward(l)``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        if node.func.attr == "backward":
            if text(node.func.value).endswith("autograd") and node.args:
                return node.args[0]
            return node.func.value
    return None


def _unwrap(node: ast.expr) -> ast.expr:
    """``l.sum()`` and the like stand for ``l``."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in REDUCTIONS \
            and not node.args:  # l.mean(), not torch.mean(l)
        node = node.func.value
    return node


class _Reader:
    """Reads calls in one scope, knowing the student's functions (``callables``, as calls spell them) and
    the names the parameters go by (``params``)."""

    def __init__(self, scope: _Scope, callables: set[str], params: set[str]) -> None:
        self.scope, self.callables, self.params = scope, callables, params

    def student_call(self, node: ast.expr, before: int) -> ast.Call | None:
        """``node`` as a call of a student function: the call itself, or a name assigned from one."""
        node = _unwrap(node)
        if isinstance(node, ast.Call) and text(node.func) in self.callables:
            return node
        if isinstance(node, ast.Name):
            value = self.scope.assigned(node.id, before)
            if value is not None and value is not node:
                value = _unwrap(value)
                if isinstance(value, ast.Call) and text(value.func) in self.callables:
                    return value
        return None

    def site(self, call: ast.Call, loop: tuple[str, ...], renames: dict[str, Arg] | None = None) -> Site:
        """The call with each argument read: the loop's names are x and y; other data go x first, then y
        (only y beside a prediction)."""
        read = [self.argument(node, loop, renames or {}, call.lineno) for node in call.args]
        order = [Y] if any(arg.what == PRED for arg in read) else [X, Y]  # loss(y_pred, y): the data is y
        order = [what for what in order if all(arg.what != what for arg in read)]  # the loop's x, y come first
        args = []
        for node, arg in zip(call.args, read):
            if arg.what == "data":
                arg = Arg(order.pop(0) if order else UNKNOWN, text(node))
            args.append(arg)
        if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
            args.append(Arg(UNKNOWN, "keywords"))
        return Site(text(call.func), tuple(args), call.lineno)

    def argument(self, node: ast.expr, loop: tuple[str, ...], renames: dict[str, Arg], line: int) -> Arg:
        written = text(node)
        if isinstance(node, ast.Name) and node.id in renames:
            return renames[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return Arg(CONST, written, float(node.value))
        if written in self.params:
            return Arg(PARAM, written)
        if isinstance(node, ast.Name) and node.id in loop:
            return Arg((X, Y)[loop.index(node.id)], written)
        call = self.student_call(node, line)
        if call is not None:
            return Arg(PRED, written, call=self.site(call, loop, renames))
        number = self.number(node, line)
        if number is not None:  # b = 1.0 passed as forward(x, w, b): a term held at that constant
            return Arg(CONST, written, number)
        return Arg("data", written)

    def number(self, node: ast.expr, line: int) -> float | None:
        """The plain number a name was last bound to, in this function or else at the module's top level."""
        if not isinstance(node, ast.Name):
            return None
        value = self.scope.assigned(node.id, line)
        if value is None and self.scope.function is not self.scope.tree:
            value = _Scope(self.scope.tree, 0).assigned(node.id, 10**9)
        negative = isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
        value = value.operand if negative else value
        if isinstance(value, ast.Constant) and type(value.value) in (int, float):
            return -float(value.value) if negative else float(value.value)
        return None


def _functions(tree: ast.Module) -> Iterable[ast.FunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            yield node


def _as_self(names: set[str], owner: str) -> set[str]:
    """Inside a method of ``owner``'s class, ``owner.forward`` is spelled ``self.forward``."""
    return {f"self.{name[len(owner) + 1:]}" for name in names if owner and name.startswith(owner + ".")}


def _inner_forward(trees: Sequence[ast.Module], loss: Site, callables: set[str], params: set[str]) -> Site | None:
    """The call of a student function inside the loss function's body (``def loss(x, y): y_pred =
    forward(x)``), its arguments read through the loss call's: the loss's first parameter is what the
    loss call passed first, and so on."""
    owner, _, name = loss.callee.rpartition(".")
    for tree in trees:
        for function in _functions(tree):
            if function.name != name:
                continue
            names = [a.arg for a in function.args.args]
            if owner and names and names[0] == "self":
                names = names[1:]
            renames = dict(zip(names, loss.args))
            spelled = callables | _as_self(callables, owner)
            scope = _Scope(tree, function.lineno)
            scope.function = function
            reader = _Reader(scope, spelled, params | _as_self(params, owner))
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and text(node.func) in spelled:
                    site = reader.site(node, (), renames)
                    callee = site.callee
                    if owner and callee.startswith("self."):
                        callee = f"{owner}.{callee[5:]}"
                    return Site(callee, site.args, site.line)
    return None


def parse(units: Sequence[tuple[str, str]]) -> list[tuple[str, ast.Module]]:
    """Each unit's syntax tree (a unit that does not parse is left out)."""
    trees = []
    for name, source in units:
        try:
            trees.append((name, ast.parse(source)))
        except (SyntaxError, ValueError):
            continue
    return trees


def chain_at(units: Sequence[tuple[str, str]], file: str | None, line: int | None, callables: set[str],
             params: set[str]) -> Chain | None:
    """What led to the backward pass at ``line`` of ``file``: None when the source does not show it.
    ``callables``: the student's functions as calls would spell them; ``params``: the names the
    parameters go by (a parameter passed as an argument is read as one)."""
    if line is None:
        return None
    trees = parse(units)
    tree = next((t for name, t in trees if len(trees) == 1 or (file and (file == name or file.endswith(name)))), None)
    if tree is None:
        return None
    target = _backward_at(tree, line)
    if target is None:
        return None
    scope = _Scope(tree, line)
    reader = _Reader(scope, callables, params)
    loop = scope.loop_names()
    made = _unwrap(target)
    if isinstance(made, ast.Name):
        made = scope.assigned(made.id, line) or made
        made = _unwrap(made)
    all_trees = [t for _, t in trees]
    if isinstance(made, ast.Call) and text(made.func) in callables:
        loss = reader.site(made, loop)
        pred = next((a.call for a in loss.args if a.what == PRED), None)
        return Chain(loss, pred or _inner_forward(all_trees, loss, callables, params), loop)
    # The loss written in place, or computed by a function of torch's: the model is the student call in it.
    for node in ast.walk(made):
        if isinstance(node, (ast.Call, ast.Name)):
            call = reader.student_call(node, line)
            if call is not None:
                return Chain(None, reader.site(call, loop), loop)
    return Chain(None, None, loop)

"""Arithmetic formulas of an assignment spec, evaluated in float32 with their gradients.

A spec writes its model as a plain expression (``"x * w"``, ``"w1 * x**2 + w2 * x + b"``) and its loss in
terms of ``y_pred`` and ``y``.  This module parses such an expression once (only numbers, names, ``+ - * /``,
unary minus and ``**`` with a constant exponent are allowed) and evaluates it in numpy float32, doing each
operation in the order Python would and applying the same backward rules as torch's autograd
(``d(a*b)/da = grad * b``, ``d(a**n)/da = grad * (n * a**(n-1))``).  That is what makes the reference
trace reproduce the lecture's float32 numbers to the last bit, without importing torch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Mapping

import numpy as np

F32 = np.float32

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class FormulaError(ValueError):
    """The text is not a formula this module can evaluate."""


@dataclass(frozen=True)
class Formula:
    """A parsed expression: ``text`` as written, ``names`` the variables it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> "Formula":
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise FormulaError(f"{text!r} is not an expression: {exc.msg}") from None
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.BinOp):
                if type(node.op) not in _BINOPS:
                    raise FormulaError(f"{text!r}: operator {type(node.op).__name__} is not allowed")
                if isinstance(node.op, ast.Pow) and not _is_number(node.right):
                    raise FormulaError(f"{text!r}: the exponent of ** must be a number")
            elif isinstance(node, ast.UnaryOp):
                if not isinstance(node.op, (ast.USub, ast.UAdd)):
                    raise FormulaError(f"{text!r}: operator {type(node.op).__name__} is not allowed")
            elif isinstance(node, ast.Constant):
                if not _is_number(node):
                    raise FormulaError(f"{text!r}: only numbers may appear as constants")
            elif not isinstance(node, (ast.operator, ast.unaryop, ast.Load)):
                raise FormulaError(f"{text!r}: {type(node).__name__} is not allowed in a formula")
        return cls(text=text, tree=tree, names=frozenset(names))

    def value(self, env: Mapping[str, float]) -> np.float32:
        """The formula's value in float32."""
        return self.evaluate(env, wrt=())[0]

    def evaluate(
        self, env: Mapping[str, float], wrt: tuple[str, ...], seed: float = 1.0
    ) -> tuple[np.float32, dict[str, np.float32]]:
        """The value and the gradient with respect to each name in ``wrt`` (float32, torch's rules).

        ``seed`` is the gradient flowing in from above, as autograd's chain rule hands it down: the
        gradient of a loss through this formula is ``evaluate(env, wrt, seed=dloss/dformula)``."""
        missing = self.names - set(env)
        if missing:
            raise FormulaError(f"{self.text!r}: no value for {', '.join(sorted(missing))}")
        values: dict[int, np.float32] = {}
        with np.errstate(all="ignore"):
            root = _forward(self.tree, {k: F32(v) for k, v in env.items()}, values)
            grads = {name: None for name in wrt}
            _backward(self.tree, F32(seed), values, grads)
        return root, {name: (F32(0.0) if g is None else g) for name, g in grads.items()}


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_number(node.operand)
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _forward(node: ast.expr, env: Mapping[str, np.float32], values: dict[int, np.float32]) -> np.float32:
    if isinstance(node, ast.Constant):
        out = F32(node.value)
    elif isinstance(node, ast.Name):
        out = env[node.id]
    elif isinstance(node, ast.UnaryOp):
        operand = _forward(node.operand, env, values)
        out = -operand if isinstance(node.op, ast.USub) else operand
    else:
        assert isinstance(node, ast.BinOp)
        a = _forward(node.left, env, values)
        b = _forward(node.right, env, values)
        op = _BINOPS[type(node.op)]
        if op == "+":
            out = a + b
        elif op == "-":
            out = a - b
        elif op == "*":
            out = a * b
        elif op == "/":
            out = a / b
        else:
            out = _pow(a, b)
    out = F32(out)
    values[id(node)] = out
    return out


def _pow(a: np.float32, n: np.float32) -> np.float32:
    # torch computes x**2 as x*x and x**1 as x; other exponents go through pow.
    if n == 2:
        return F32(a * a)
    if n == 1:
        return a
    return F32(np.power(a, n))


def _backward(node: ast.expr, grad: np.float32, values: dict[int, np.float32], grads: dict) -> None:
    if isinstance(node, ast.Constant):
        return
    if isinstance(node, ast.Name):
        if node.id in grads:
            previous = grads[node.id]
            grads[node.id] = grad if previous is None else F32(previous + grad)
        return
    if isinstance(node, ast.UnaryOp):
        _backward(node.operand, -grad if isinstance(node.op, ast.USub) else grad, values, grads)
        return
    assert isinstance(node, ast.BinOp)
    a, b = values[id(node.left)], values[id(node.right)]
    op = _BINOPS[type(node.op)]
    if op == "+":
        _backward(node.left, grad, values, grads)
        _backward(node.right, grad, values, grads)
    elif op == "-":
        _backward(node.left, grad, values, grads)
        _backward(node.right, F32(-grad), values, grads)
    elif op == "*":
        _backward(node.left, F32(grad * b), values, grads)
        _backward(node.right, F32(grad * a), values, grads)
    elif op == "/":
        _backward(node.left, F32(grad / b), values, grads)
        _backward(node.right, F32(-grad * a / (b * b)), values, grads)
    else:  # a ** n with a constant n
        if b == 0:
            local = F32(0.0)
        else:
            local = F32(b * _pow(a, F32(b - 1)))
        _backward(node.left, F32(grad * local), values, grads)


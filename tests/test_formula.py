"""grader/formula.py: the formulas of a spec parsed, refused when they cannot be differentiated, and
their gradients."""

from __future__ import annotations

import pytest

from grader.formula import Formula, FormulaError


@pytest.mark.parametrize("text", ["x ** w", "abs(x)", "x if w else 1", "w.data", "'a' * w", "x +"])
def test_formula_rejects_what_it_cannot_differentiate(text: str) -> None:
    with pytest.raises(FormulaError):
        Formula.parse(text)


def test_formula_gradients_of_division_and_negation() -> None:
    value, grads = Formula.parse("-w / x + b * b").evaluate({"w": 2.0, "x": 4.0, "b": 3.0}, wrt=("w", "b"))
    assert value == pytest.approx(-0.5 + 9.0)
    assert grads["w"] == pytest.approx(-0.25)
    assert grads["b"] == pytest.approx(6.0)

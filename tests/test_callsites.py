"""grader/callsites.py and grader/plan.attempts_for: how the training called the student's functions, read
from the source at the backward() line, and the calls the grader makes of them in the same way."""

from __future__ import annotations

import textwrap

from grader import callsites as cs
from grader.plan import attempts_for
from grader.protocol import Function
from grader.spec import get_spec

QUADRATIC = get_spec("backprop_quadratic")


def chain(source: str, callables: set[str], params=("w1", "w2", "b")) -> cs.Chain:
    source = textwrap.dedent(source)
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "backward(" in text)
    found = cs.chain_at([("", source)], "hw.py", line, callables, set(params))
    assert found is not None
    return found


def kinds(site: cs.Site | None) -> tuple[str, ...]:
    assert site is not None
    return tuple(arg.what for arg in site.args)


def test_the_lecture_style_loss_x_y_and_its_forward_inside() -> None:
    found = chain("""
        def forward(x):
            return w1 * x**2 + w2 * x + b
        def loss(x, y):
            return (forward(x) - y) ** 2
        for epoch in range(100):
            for x, y in zip(x_data, y_data):
                l = loss(x, y)
                l.backward()
        """, {"forward", "loss"})
    assert found.loss.callee == "loss" and kinds(found.loss) == (cs.X, cs.Y)
    assert found.forward.callee == "forward" and kinds(found.forward) == (cs.X,)
    assert found.loop == ("x", "y")


def test_a_loss_of_the_prediction() -> None:
    found = chain("""
        for xi, yi in zip(xs, ys):
            y_pred = model(xi)
            cost = loss(y_pred, yi)
            cost.backward()
        """, {"model", "loss"})
    assert kinds(found.loss) == (cs.PRED, cs.Y)
    assert found.forward.callee == "model" and kinds(found.forward) == (cs.X,)


def test_a_loss_without_arguments_reading_the_loop() -> None:
    found = chain("""
        def loss():
            return (forward(x) - y) ** 2
        for x, y in zip(x_data, y_data):
            l = loss()
            l.backward()
        """, {"forward", "loss"})
    assert found.loss.callee == "loss" and found.loss.args == ()
    assert found.loop == ("x", "y")


def test_a_parameter_and_a_constant_passed_to_forward() -> None:
    found = chain("""
        for x, y in zip(x_data, y_data):
            l = (forward(x, b, 2) - y) ** 2
            l.backward()
        """, {"forward"})
    assert found.loss is None
    assert kinds(found.forward) == (cs.X, cs.PARAM, cs.CONST)
    assert found.forward.args[1].name == "b" and found.forward.args[2].value == 2.0


def test_backward_on_the_call_itself_and_on_a_reduction() -> None:
    direct = chain("""
        for x, y in zip(x_data, y_data):
            loss(x, y).backward()
        """, {"loss"})
    assert kinds(direct.loss) == (cs.X, cs.Y)
    reduced = chain("""
        for x, y in zip(x_data, y_data):
            l = loss(x, y)
            l.mean().backward()
        """, {"loss"})
    assert kinds(reduced.loss) == (cs.X, cs.Y)


def test_a_loss_of_torch_around_the_student_model() -> None:
    found = chain("""
        for x, y in zip(x_data, y_data):
            l = torch.nn.functional.mse_loss(net(x), y)
            l.backward()
        """, {"net"})
    assert found.loss is None and found.forward.callee == "net"


def test_methods_read_through_self() -> None:
    found = chain("""
        class Model:
            def forward(self, x):
                return self.w1 * x
            def loss(self, x, y):
                return (self.forward(x) - y) ** 2
            def fit(self):
                for x, y in zip(xs, ys):
                    l = self.loss(x, y)
                    l.backward()
        """, {"model.forward", "model.loss", "self.loss"})
    assert found.loss.callee == "self.loss" and kinds(found.loss) == (cs.X, cs.Y)


def test_source_that_does_not_parse_or_no_backward_says_nothing() -> None:
    assert cs.chain_at([("", "def (:\n  l.backward()\n")], "hw.py", 2, {"loss"}, set()) is None
    assert cs.chain_at([("", "x = 1\n")], "hw.py", 1, {"loss"}, set()) is None
    assert cs.chain_at([("", "l.backward()\n")], "hw.py", None, {"loss"}, set()) is None


# -- plan.attempts_for: the calls the grader will make --------------------------------------------------

SLOTS = ("w1", "w2", "b")


def test_the_loss_is_called_as_the_training_called_it() -> None:
    functions = [(0, Function("forward", ("x",))), (1, Function("loss", ("y_pred", "y")))]
    site = cs.Site("loss", (cs.Arg(cs.PRED), cs.Arg(cs.Y)), 9)
    found, why = attempts_for(QUADRATIC, "loss", functions, site, ("x", "y"), SLOTS)
    assert found[0].args == ("p", "y") and found[0].shown == "loss(y_pred, y)" and why == ""


def test_a_parameter_argument_is_passed_as_its_slot() -> None:
    functions = [(0, Function("forward", ("x", "b")))]
    site = cs.Site("forward", (cs.Arg(cs.X), cs.Arg(cs.PARAM, "b")), 9)
    found, _ = attempts_for(QUADRATIC, "forward", functions, site, (), SLOTS)
    assert found[0].args == ("x", "s2") and found[0].shown == "forward(x, b)"


def test_loss_without_arguments_binds_the_names_it_reads() -> None:
    functions = [(0, Function("loss", (), reads=("x", "y", "forward")))]
    site = cs.Site("loss", (), 9)
    found, _ = attempts_for(QUADRATIC, "loss", functions, site, ("x", "y"), SLOTS)
    assert found[0].args == () and found[0].binds == (("x", "x"), ("y", "y"))
    blind = [(0, Function("loss", (), reads=("forward",)))]  # it reads neither name of the loop
    found, why = attempts_for(QUADRATIC, "loss", blind, site, ("x", "y"), SLOTS)
    assert found == [] and "the x and y it reads" in why


def test_an_argument_the_grader_cannot_give_is_said_in_plain_words() -> None:
    functions = [(0, Function("forward", ("x", "table")))]
    site = cs.Site("forward", (cs.Arg(cs.X), cs.Arg(cs.UNKNOWN, "table")), 9)
    found, why = attempts_for(QUADRATIC, "forward", functions, site, (), SLOTS)
    assert found == [] and "forward() is given table in your training" in why


def test_without_a_call_site_the_skeleton_name_and_arguments_are_tried() -> None:
    functions = [(0, Function("forward", ("x",))), (1, Function("loss", ("x", "y")))]
    found, _ = attempts_for(QUADRATIC, "loss", functions, None, (), SLOTS)
    assert [a.args for a in found] == [("x", "y"), ("p", "y")]
    found, why = attempts_for(QUADRATIC, "forward", [], None, (), SLOTS)
    assert found == [] and "none is named forward" in why


def test_a_name_bound_to_a_number_is_a_constant_and_no_second_x() -> None:
    """``bias = 1.0`` passed on through the loss to forward is that constant; beside the loop's x and y, an
    argument the grader cannot read is unknown, never another x."""
    found = chain("""
        bias = -1.5
        def forward(x, w1, w2, b):
            return x * x * w1 + x * w2 + b
        def cost(x, y, w1, w2, b, other):
            return (forward(x, w1, w2, b) - y) ** 2
        def main():
            for x, y in zip(x_data, y_data):
                l = cost(x, y, w1, w2, bias, table)
                l.backward()
        """, {"forward", "cost"})
    assert kinds(found.loss) == (cs.X, cs.Y, cs.PARAM, cs.PARAM, cs.CONST, cs.UNKNOWN)
    assert found.loss.args[4].value == -1.5
    assert kinds(found.forward) == (cs.X, cs.PARAM, cs.PARAM, cs.CONST)

"""grader/roles.py: the student's slots are matched to the spec's parameters by what they do in the model
(their gradients), never by their names; names and order decide only when the gradients cannot."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.reference import loss_and_grads
from grader.roles import Fit, Roles, assign, follows
from grader.spec import get_spec
from grader.trace import Pass

QUADRATIC = get_spec("backprop_quadratic")
LINEAR = get_spec("backprop_linear")


def training(spec, start: dict, lr: float = 0.01, steps: int = 12, ys=None, model=None) -> list[dict]:
    """Per-sample gradient descent as a student runs it: each pass's parameter values and gradients, by name
    (``model``: another model's loss and gradients, for programs whose model differs)."""
    params, rows = dict(start), []
    ys = ys or spec.y
    for k in range(steps):
        x, y = spec.x[k % spec.samples], ys[k % spec.samples]
        loss, grads = (model or (lambda p, x, y: loss_and_grads(spec, p, x, y)))(params, x, y)
        rows.append({"values": dict(params), "grads": grads, "loss": loss})
        params = {name: params[name] - lr * grads[name] for name in params}
    return rows


def as_passes(rows: list[dict], slots: dict[str, str]) -> list[Pass]:
    """The rows as the child reports them: one value and gradient per slot (slot label -> the name it holds)."""
    return [Pass(row["loss"], 10, "hw.py", tuple(row["grads"][n] for n in slots.values()),
                 tuple(row["values"][n] for n in slots.values())) for row in rows]


def test_other_names_are_matched_by_their_gradients() -> None:
    slots = {"a": "w1", "b": "w2", "c": "b"}
    roles, fit = assign(QUADRATIC, list(slots), as_passes(training(QUADRATIC, QUADRATIC.initial), slots))
    assert roles.by_slot == slots and roles.evidence == "gradients"
    assert fit.exact == 12 and fit.departs == 0
    assert roles.renamed() == {"a": "w1", "b": "w2", "c": "b"}


def test_names_that_lie_lose_to_the_gradients() -> None:
    """`b` multiplies x**2, `w1` multiplies x, `w2` is added: the spec's names, each in another role."""
    slots = {"b": "w1", "w1": "w2", "w2": "b"}
    start = {"w1": 0.3, "w2": -0.7, "b": 1.9}  # distinct values, so no assignment fits by accident
    roles, _ = assign(QUADRATIC, list(slots), as_passes(training(QUADRATIC, start), slots))
    assert roles.by_slot == slots


def test_an_attribute_of_the_spec_name_is_no_rename() -> None:
    slots = {"model.w1": "w1", "model.w2": "w2", "self.b": "b"}
    roles, _ = assign(QUADRATIC, list(slots), as_passes(training(QUADRATIC, QUADRATIC.initial), slots))
    assert roles.by_slot == slots and roles.renamed() == {}


def test_a_model_without_its_bias_has_no_slot_for_b() -> None:
    def no_bias(p, x, y):
        r = p["w1"] * x * x + p["w2"] * x - y
        return r * r, {"w1": 2 * r * x * x, "w2": 2 * r * x}

    slots = {"w_1": "w1", "w_2": "w2"}
    rows = training(QUADRATIC, {"w1": 1.0, "w2": 1.0}, model=no_bias)
    roles, fit = assign(QUADRATIC, list(slots), as_passes(rows, slots))
    assert roles.by_slot == slots and "b" not in roles.by_slot.values()
    assert fit.clean


def test_other_data_still_tell_the_roles_by_the_model_derivatives() -> None:
    """y = 3x instead of 2x: the spec's gradients never hold, but each pass's gradients are one factor times
    (x**2, x, 1), which only the right assignment explains."""
    slots = {"p": "b", "q": "w1", "r": "w2"}
    rows = training(QUADRATIC, {"w1": 0.2, "w2": 0.5, "b": -0.4}, ys=[3.0, 6.0, 9.0])
    roles, fit = assign(QUADRATIC, list(slots), as_passes(rows, slots))
    assert roles.by_slot == slots and roles.evidence == "gradients"
    assert fit.follows > 0 and fit.exact == 0


def test_when_nothing_fits_the_names_decide_then_the_order() -> None:
    noise = [Pass(1.0, 1, "hw.py", (float(k), -3.0 * k, 0.5), (1.0, 2.0, 3.0)) for k in range(1, 7)]
    roles, _ = assign(QUADRATIC, ["w1", "w2", "b"], noise)
    assert roles.by_slot == {"w1": "w1", "w2": "w2", "b": "b"} and roles.evidence == "names"
    roles, _ = assign(QUADRATIC, ["k0", "k1", "k2"], noise)
    assert roles.by_slot == {"k0": "w1", "k1": "w2", "k2": "b"} and roles.evidence == "order"


def test_no_pass_means_names_then_order() -> None:
    assert assign(QUADRATIC, ["w1", "w2", "b"], [])[0].by_slot == {"w1": "w1", "w2": "w2", "b": "b"}
    assert assign(QUADRATIC, ["W[0]", "W[1]", "W[2]"], [])[0].by_slot == {"W[0]": "w1", "W[1]": "w2", "W[2]": "b"}
    assert assign(QUADRATIC, [], [])[0].by_slot == {}


def test_the_linear_model_takes_its_single_slot_whatever_its_name() -> None:
    slots = {"weight": "w"}
    roles, fit = assign(LINEAR, list(slots), as_passes(training(LINEAR, LINEAR.initial), slots))
    assert roles.by_slot == {"weight": "w"} and fit.exact == 12


def test_follows_is_silent_when_the_derivatives_are_alike() -> None:
    assert follows([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]) is None  # x = 1: x**2, x and 1 are all 1
    assert follows([8.0, 4.0, 2.0], [4.0, 2.0, 1.0]) is True
    assert follows([4.0, 8.0, 2.0], [4.0, 2.0, 1.0]) is False


@settings(max_examples=40, deadline=None)
@given(
    order=st.permutations(["w1", "w2", "b"]),
    start=st.tuples(*[st.floats(-2, 2, allow_nan=False).filter(lambda v: abs(v) > 0.05)] * 3),
    lr=st.sampled_from([0.005, 0.01, 0.02]),
)
def test_any_order_of_the_slots_any_start_any_rate_is_recovered(order, start, lr) -> None:
    """Whatever the student calls the slots, whatever order they were made in, wherever training starts
    and whatever the learning rate, each slot is matched to the parameter it plays."""
    labels = [f"t{i}" for i in range(3)]
    slots = dict(zip(labels, order))
    values = dict(zip(["w1", "w2", "b"], start))
    if len({round(v, 3) for v in values.values()}) < 3:
        return  # equal starting values: two slots are interchangeable at first, which tells nothing
    roles, _ = assign(QUADRATIC, labels, as_passes(training(QUADRATIC, values, lr=lr), slots))
    assert roles.by_slot == slots


def test_data_the_code_lists_tell_the_roles_when_the_spec_data_cannot() -> None:
    """Two slots without a bias trained on five samples of their own: at the spec's three samples nothing
    fits, so the names would decide (and get them backwards); on the samples the code lists, the gradients
    are exactly the spec's loss gradients, and they decide."""
    xs, ys = (1.0, 2.0, 3.0, 4.0, 5.0), (1.0, 6.0, 15.0, 28.0, 45.0)
    params, rows = {"w1": 1.0, "w2": 1.0, "b": 0.0}, []
    for k in range(12):
        loss, grads = loss_and_grads(QUADRATIC, params, xs[k % 5], ys[k % 5])
        rows.append(Pass(loss, 10, "hw.py", (grads["w2"], grads["w1"]), (params["w2"], params["w1"])))
        params = {n: params[n] - 0.001 * grads[n] if n != "b" else 0.0 for n in params}
    labels = ["w1", "a"]  # the program's w1 multiplies x; its a multiplies x**2
    assert assign(QUADRATIC, labels, rows)[0].evidence != "gradients"
    roles, found = assign(QUADRATIC, labels, rows, [((1.0, 2.0), (3.0, 4.0)), (xs, ys)])
    assert roles.by_slot == {"w1": "w2", "a": "w1"} and roles.evidence == "gradients"
    assert found.exact == 12


def test_a_program_of_many_tensor_sets_is_read_by_its_longest(monkeypatch) -> None:
    """Hundreds of kinds of pass (each a search over its slots) would cost the parent minutes: only the
    longest are weighed, and other data only for kinds of a homework's few slots."""
    from grader import plan
    from grader.trace import Kind

    seen = []

    def weighed(spec, labels, passes, data=()):
        seen.append((labels, data))
        return Roles({}, "names"), Fit()

    monkeypatch.setattr(plan, "assign", weighed)
    one = Pass(1.0, 1, "hw.py", (1.0,), (1.0,))
    kinds = [Kind((f"t{k}",), (one,) * (1 + (k == 150))) for k in range(300)]
    kinds.append(Kind(tuple(f"s{i}" for i in range(8)), (Pass(1.0, 1, "hw.py", (1.0,) * 8, (1.0,) * 8),) * 5))
    plan.choose_kind(QUADRATIC, kinds, [((1.0, 2.0), (3.0, 4.0))])
    assert len(seen) == plan.MOST_KINDS
    assert ("t150",) in [labels for labels, _ in seen]  # the longer ones are kept
    assert all(data == () for labels, data in seen if len(labels) == 8)


def test_a_kind_whose_slots_play_nothing_explains_nothing() -> None:
    """A notebook's linear warm-up (one slot ``w``) beside the homework, both never resetting their gradients:
    neither fits, and the warm-up's empty fallback must not count as a perfect fit (it won the choice, and
    the homework's passes went ungraded)."""
    from grader.plan import choose_kind
    from grader.trace import Kind

    def never_reset(slots, start):
        params, total, rows = dict(start), {n: 0.0 for n in start}, []
        for k in range(12):
            x, y = QUADRATIC.x[k % 3], QUADRATIC.y[k % 3]
            loss, grads = loss_and_grads(QUADRATIC, {**{"w1": 0.0, "w2": 0.0, "b": 0.0}, **params}, x, y)
            total = {n: total[n] + grads[n] for n in start}
            rows.append(Pass(loss, 10, "hw.py", tuple(total[n] for n in slots.values()),
                             tuple(params[n] for n in slots.values())))
            params = {n: params[n] - 0.01 * total[n] for n in start}
        return rows

    warmup = Kind(("w",), tuple(never_reset({"w": "w2"}, {"w2": 1.0})))
    homework = Kind(("w1", "w2", "b"), tuple(never_reset({"w1": "w1", "w2": "w2", "b": "b"}, QUADRATIC.initial)))
    assert assign(QUADRATIC, ["w"], list(warmup.passes))[1].exact < 12
    index, roles, _ = choose_kind(QUADRATIC, [warmup, homework])
    assert index == 1 and roles.by_slot == {"w1": "w1", "w2": "w2", "b": "b"}

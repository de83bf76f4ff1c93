"""grader/static.py: the plain literals of a program that never trained: its epochs, its rate, its starts."""

from __future__ import annotations

from grader import static

LECTURE_STYLE = """
import torch
w1 = torch.tensor([2.0])
w2 = Variable(torch.Tensor([1.0]), requires_grad=True)
b = torch.tensor(-0.5, requires_grad=True)
for epoch in range(1000):
    for x, y in zip(xs, ys):
        l = loss(x, y)
        l.backward()
        w1.data = w1.data - 0.02 * w1.grad.data
        w2 -= 0.02 * w2.grad
"""


def trees(*sources: str):
    return static.parse([(f"hw.ipynb, cell {n}", s) for n, s in enumerate(sources, start=1)])


def test_the_training_loop_rate_and_starts_are_read() -> None:
    parsed = trees(LECTURE_STYLE)
    loop = static.epochs(parsed)
    assert loop.value == 1000 and loop.line == 6 and loop.text == "for epoch in range(1000):"
    assert static.learning_rate(parsed).value == 0.02
    starts = static.starting_values(parsed, ("w1", "w2", "b"))
    assert {n: r.value for n, r in starts.items()} == {"w1": 2.0, "w2": 1.0, "b": -0.5}


def test_what_is_not_a_plain_literal_is_left_alone() -> None:
    parsed = trees("for epoch in range(n_epochs):\n    l.backward()\n", "w = torch.randn(1)\nw.data -= lr * w.grad\n")
    assert static.epochs(parsed) is None and static.learning_rate(parsed) is None
    assert static.starting_values(parsed, ("w",)) == {}


def test_two_rates_or_two_training_loops_say_nothing() -> None:
    two = trees("w.data = w.data - 0.01 * w.grad.data\nb.data = b.data - 0.02 * b.grad.data\n",
                "for e in range(10):\n    l.backward()\n", "for e in range(20):\n    l.backward()\n")
    assert static.learning_rate(two) is None and static.epochs(two) is None
    assert static.learning_rate(trees("opt = torch.optim.SGD([w], lr=0.05)\n")).value == 0.05


def test_code_that_does_not_parse_is_not_read() -> None:
    assert static.parse([("hw.py", "def forward(x:\n    return x * w\n")]) is None


def test_a_request_for_gradients_is_seen_in_any_of_its_forms() -> None:
    for code in ("l.backward()", "torch.autograd.backward(l)", "g = torch.autograd.grad(l, w)",
                 "from torch.autograd import backward\nbackward(l)"):
        assert static.asks_for_gradients(trees(code)), code
    assert not static.asks_for_gradients(trees("l = loss(1, 2)\nprint(w.grad)"))


def test_only_the_outermost_loop_counts_epochs() -> None:
    """range(3) over the samples inside an epoch loop of unknown length says nothing of the epochs."""
    inner = trees("for epoch in range(n_epochs):\n    for i in range(3):\n        l.backward()\n")
    assert static.epochs(inner) is None
    assert static.epochs(trees("while True:\n    for i in range(3):\n        l.backward()\n")) is None
    assert static.epochs(trees("for epoch in range(50):\n    for i in range(3):\n        l.backward()\n")).value == 50


def test_number_lists_are_the_literal_lists_of_numbers() -> None:
    parsed = trees("x_data = [1.0, 2.0, 3.0]\ny_data = torch.tensor([[4.0], [3.0], [-0.5]])\nw = [1.0]\n"
                   "names = ['a', 'b']\nmixed = [1.0, n]\nagain = (1.0, 2.0, 3.0)\n")
    assert static.number_lists(parsed) == [(1.0, 2.0, 3.0), (4.0, 3.0, -0.5)]  # one number, names, repeats: no


def test_the_model_a_forward_returns_is_read_whatever_its_names() -> None:
    parsed = trees("class Net:\n    def forward(self, v):\n        out = self.w1 * v**2 + w[1] * v + bias\n        return out\n",
                   "b = 1.0\nlr = 0.01\nlr = 0.02\n")
    model, = static.forward_models(parsed, "forward")
    assert sorted(model.names.values()) == ["bias", "self.w1", "w[1]"]
    assert (model.unit, model.line) == ("hw.ipynb, cell 1", 3)
    assert model.value(2.0, {"self.w1": 1.0, "w[1]": 2.0, "bias": 0.5}) == 8.5
    assert model.value(2.0, {"self.w1": 1.0}) is None  # a name without a value: no model
    assert model.derivative("self.w1", 3.0, {}) == 9.0
    assert static.constants(parsed) == {"b": 1.0}  # bound twice: not a constant


def test_a_forward_that_is_not_plain_arithmetic_is_no_model() -> None:
    for body in ("return torch.mul(w, x)", "if x > 0:\n        return w * x\n    return 0", "return w * 2", "pass"):
        assert static.forward_models(trees(f"def forward(x):\n    {body}\n"), "forward") == []


def test_where_a_list_of_numbers_is_written() -> None:
    parsed = trees("x_data = [1.0, 2.0, 3.0]\n", "y = 2\nx_data = [1.0, 2.0, 3.0, 0.5]\n")
    found = static.where_listed(parsed, (1.0, 2.0, 3.0, 0.5))
    assert (found.unit, found.line, found.text) == ("hw.ipynb, cell 2", 2, "x_data = [1.0, 2.0, 3.0, 0.5]")
    assert static.where_listed(parsed, (9.0, 9.0)) is None


def test_python_2_code_is_read_with_its_prints_as_calls() -> None:
    """Only read, never run: ``print "grad:", x`` and ``xrange`` are what older copies of the lecture wrote."""
    source = 'w = Variable(torch.Tensor([1.0]), requires_grad=True)\nfor epoch in xrange(10):\n' \
             '    for x, y in zip(xs, ys):\n        l = loss(x, y)\n        l.backward()\n' \
             '        print "\\tgrad: ", x, y, w.grad.data[0]\n        print\n    print "progress:", epoch,\n'
    parsed = trees(source)
    assert parsed is not None and static.epochs(parsed).value == 10
    assert static.parse([("hw.py", "print >>f, x\nif x\n")]) is None  # not Python at all: nothing is read


def test_of_several_training_loops_the_one_after_the_stop_is_read() -> None:
    loops = "for epoch in range({n}):\n    l.backward()\n"
    parsed = trees("print(forward(4, b))\n" + loops.format(n=10), loops.format(n=50), loops.format(n=7))
    assert static.epochs(parsed) is None  # three loops: which one is not in the text
    assert static.epochs(parsed, ("hw.ipynb, cell 1", 1)).value == 10
    assert static.epochs(parsed, ("hw.ipynb, cell 2", 1)).value == 50
    assert static.epochs(parsed, ("hw.ipynb, cell 3", 9)) is None  # stopped after every loop
    assert static.epochs(parsed, ("hw.ipynb, cell 2", 2)).value == 50  # stopped inside that loop


def test_the_data_a_training_loop_zips_are_read() -> None:
    loop = "for epoch in range(10):\n    for x, y in zip(xs, ys):\n        l.backward()\n"
    parsed = trees("xs = [0.0, 1.0, 2.0]\nys = [3.0, 4.5, 6.0]\n", loop)
    xs, ys, read = static.training_data(parsed)
    assert (xs, ys) == ((0.0, 1.0, 2.0), (3.0, 4.5, 6.0)) and (read.unit, read.line) == ("hw.ipynb, cell 1", 1)
    assert static.training_data(trees("xs = [0.0, 1.0]\nxs = [2.0, 3.0]\nys = [1.0, 2.0]\n", loop)) is None  # bound twice
    assert static.training_data(trees("xs = load()\nys = [1.0, 2.0]\n", loop)) is None
    # Lists made into arrays are the same data; a call with anything more than the list is left alone.
    arrays = trees("xs = np.array([2, 4, 6, 8])\nys = torch.tensor([[4.0], [8.0], [12.0], [16.0]])\n", loop)
    assert static.training_data(arrays)[:2] == ((2.0, 4.0, 6.0, 8.0), (4.0, 8.0, 12.0, 16.0))
    assert static.where_listed(arrays, (2.0, 4.0, 6.0, 8.0)).line == 1
    assert static.training_data(trees("xs = np.array([2, 4], [6, 8])\nys = [1.0, 2.0]\n", loop)) is None


def test_reading_python_2_stays_fast_on_hostile_lines() -> None:
    """The parent reads the student's text: a line built to make a backtracking pattern take hours is read
    at once (a failing pattern here would not return within the test run)."""
    source = "print x" + " " * 200_000 + "y\n" + "print" + ", " * 100_000 + "(\n"  # the first pattern took hours on this
    assert static.parse([("hw.py", source)]) is None
    assert static._print_calls("print 'a', x,\nprint\n    print x\nprinter = 1\nprint(x)\n") == \
        "print('a', x)\nprint()\n    print(x)\nprinter = 1\nprint(x)"


def test_the_samples_a_training_loop_reads_from_a_file_are_found() -> None:
    code = ("import numpy as np\nxy = np.loadtxt(r'F:\\data.csv', delimiter=',')\nx_data = xy[:, 0]\n"
            "y_data = xy[:, 1]\nfor epoch in range(100):\n    for x, y in zip(x_data, y_data):\n"
            "        loss(x, y).backward()\n")
    read = static.data_from_file(trees(code))
    assert read.line == 2 and "np.loadtxt" in read.text
    frame = "import pandas as pd\ndf = pd.read_csv('train.csv')\nfor x, y in zip(df['x'], df['y']):\n    l.backward()\n"
    assert static.data_from_file(trees(frame)).line == 2
    # The attacks on the claim: literal data, a file read that the loop does not go through, or a name bound
    # twice (which of its values the loop sees is not in the text) say nothing.
    listed = "x_data = [1.0, 2.0]\ny_data = [2.0, 4.0]\nfor x, y in zip(x_data, y_data):\n    l.backward()\n"
    assert static.data_from_file(trees(listed)) is None
    unrelated = "log = open('log.txt', 'w')\n" + listed
    assert static.data_from_file(trees(unrelated)) is None
    rebound = "x_data = np.loadtxt('a.csv')\nx_data = [1.0, 2.0]\nfor x in x_data:\n    l.backward()\n"
    assert static.data_from_file(trees(rebound)) is None


def test_what_the_steps_update_is_read_only_where_the_text_says_it() -> None:
    parsed = trees("w.data = w.data - 0.01 * w.grad.data\nself.w1 -= lr * self.w1.grad\n"
                   "v.data.sub_(0.01 * v.grad.data)\nw.grad.data.zero_()\nw.grad = None\ng = w.grad.item()\n"
                   "for epoch in range(3):\n    u = fresh(u_new)\ngz = z.grad.data\nz.data = z.data - 0.01 * gz\n")
    assert static.stepped(parsed) == {"w", "self.w1", "v", "u", "z"}  # (a step through a copied gradient too)
    assert static.stepped(trees("w.grad.data.zero_()\nb = torch.tensor([1.0], requires_grad=True)\n")) is None
    # What the text does not say: an optimizer's step, a loop over the parameters, a function's argument, an
    # element chosen by a variable.
    for code in ("opt = torch.optim.SGD([w], lr=0.01)\nw.data -= 0.01 * w.grad\n", "opt.step()\n",
                 "for p in (w, b):\n    p.data -= 0.01 * p.grad.data\n",
                 "def update(p):\n    p.data = p.data - 0.01 * p.grad.data\n",
                 "for i in range(3):\n    w[i].data -= 0.01 * w.grad[i]\n"):
        assert static.stepped(trees(code)) is None, code


def test_a_tensor_made_to_record_gradients_is_found_in_each_form() -> None:
    for code, name in (("b = torch.tensor([4.0], requires_grad=True)", "b"),
                       ("b = torch.Tensor([1.0])\nb.requires_grad = True", "b"), ("b.requires_grad_()", "b"),
                       ("self.b = nn.Parameter(torch.zeros(1))", "self.b")):
        assert static.made_for_grad(trees(code), name) is not None, code
    for code in ("b = torch.tensor([4.0])", "b = torch.tensor([4.0], requires_grad=False)", "b.requires_grad = False",
                 "c = torch.tensor([1.0], requires_grad=True)"):
        assert static.made_for_grad(trees(code), "b") is None, code


def test_each_parameters_own_rate_is_read_in_the_order_written() -> None:
    parsed = trees("def step():\n    a.data -= 0.0008 * a.grad.data\n    b.data -= 0.002 * b.grad.data\n"
                   "    c.data = c.data - 0.005 * c.grad.data\n")
    assert [r.value for r in static.rates(parsed)] == [0.0008, 0.002, 0.005]
    assert static.learning_rate(parsed) is None


def test_a_training_loop_that_never_resets_its_gradients_is_read() -> None:
    loop = "for epoch in range(100):\n    for x, y in zip(xs, ys):\n        l = loss(x, y)\n        l.backward()\n" \
           "        g = w.grad.item()\n        w.data = w.data - 0.01 * w.grad.data\n"
    read = static.backward_never_reset(trees(loop))
    assert read.line == 4 and read.text == "l.backward()"
    # Every form of a reset counts, wherever it is; and where each step starts .grad afresh, or the gradients
    # come back from torch.autograd.grad, nothing is said.
    for reset in ("w.grad.data.zero_()", "w.grad.zero_()", "w.grad.fill_(0)", "w.grad = None", "w.grad.data *= 0",
                  "del w.grad", "optimizer.zero_grad()", "def reset():\n    w.grad.data.zero_()"):
        assert static.backward_never_reset(trees(loop, reset)) is None, reset
    for renews in ("        w = w - 0.01 * w.grad\n", "        w = torch.tensor([w.item()], requires_grad=True)\n",
                   "        (gw,) = torch.autograd.grad(l, [w])\n"):
        assert static.backward_never_reset(trees(loop + renews)) is None, renews
    assert static.backward_never_reset(trees("l.backward()\nw.data -= 0.01 * w.grad\n")) is None  # no loop


def test_data_and_starts_made_inside_main_are_read_where_bound_once() -> None:
    main = ("def main():\n    w = torch.tensor([0.5], requires_grad=True)\n    xs = [1.0, 2.0, 3.0]\n"
            "    ys = [2.0, 4.0, 7.0]\n    for x, y in zip(xs, ys):\n        loss(x, y).backward()\n")
    parsed = trees(main)
    assert static.training_data(parsed)[:2] == ((1.0, 2.0, 3.0), (2.0, 4.0, 7.0))
    assert static.starting_values(parsed, ("w",))["w"].value == 0.5
    guarded = "if __name__ == '__main__':\n    xs = [1.0, 2.0]\n    ys = [3.0, 4.0]\n    for x, y in zip(xs, ys):\n" \
              "        l.backward()\n"
    assert static.training_data(trees(guarded))[:2] == ((1.0, 2.0), (3.0, 4.0))
    # A name bound in two functions, or also taken as an argument or a loop's target, is not read.
    for other in ("def other():\n    xs = [5.0, 6.0]\n", "def f(xs):\n    pass\n", "for xs in batches:\n    pass\n",
                  "xs += [4.0]\n"):
        assert static.training_data(trees(main.replace("    xs = [1.0, 2.0, 3.0]\n", "    xs = [1.0, 2.0]\n")
                                          .replace("[2.0, 4.0, 7.0]", "[2.0, 4.0]") + other)) is None, other
    assert static.starting_values(trees(main + "def f():\n    w = torch.tensor([2.0])\n"), ("w",)) == {}


def test_a_rate_or_an_epoch_count_given_a_name_once_is_read() -> None:
    code = ("α = 0.02\nn_epochs = 300\nfor epoch in range(n_epochs):\n    l.backward()\n"
            "    w.data -= α * w.grad.data\n")
    parsed = trees(code)
    assert static.learning_rate(parsed).value == 0.02 and static.epochs(parsed).value == 300
    inside = ("def main():\n    lr = 0.05\n    for epoch in range(0, 7):\n        l.backward()\n"
              "        w.data -= lr * w.grad\n")
    assert static.learning_rate(trees(inside)).value == 0.05 and static.epochs(trees(inside)).value == 7
    # A name given two values, or one that is computed, is not read.
    for other in ("α = 0.5\n", "n_epochs = n_epochs * 2\n"):
        again = trees(code + other)
        assert (static.learning_rate(again) is None) == ("α" in other), other
        assert (static.epochs(again) is None) == ("n_epochs" in other), other

# Turns the stand-ins for missing modules against the grader: the module that lists them is student
# territory, so it is replaced to hand the observer a flood of long, odd names and objects that are not
# strings; the training itself is correct and must still be graded as such.
import torch

import grader.child.absent as absent

absent.stood_in = lambda finder: tuple(["x" * 100_000] * 500 + [object(), 3, b"bytes"])
import a_module_nobody_has  # noqa: E402,F401 - served by a stand-in

w = torch.tensor([1.0], requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
        l = loss(x, y)
        l.backward()
        w.data = w.data - 0.01 * w.grad.data
        w.grad.data.zero_()

# Trains correctly, but first replaces builtins, library functions and the grader's own protocol functions
# with spies that look at their caller: a spy called from the grader's observer would find it in the
# caller's frame.
import builtins
import hmac
import json
import os
import posix
import sys
import time

import torch

import grader.protocol as protocol

seen = []
write = posix.write  # to say so at once, even after the program ends (the grader calls it again then)


def spy(original):
    def wrapper(*args, **kwargs):
        caller = sys._getframe(1)
        owner = caller.f_locals.get("self")
        if type(owner).__name__ in ("Observer", "Channel"):
            seen.append(type(owner).__name__)
            write(2, b"observer seen by a spy\n")
        return original(*args, **kwargs)

    return wrapper


for name in ("len", "isinstance", "issubclass", "repr", "sorted", "id", "callable", "any", "getattr",
             "hasattr", "min", "max", "iter", "next", "hash"):
    setattr(builtins, name, spy(getattr(builtins, name)))
json.dumps = spy(json.dumps)
os.write = posix.write = spy(os.write)
time.monotonic = spy(time.monotonic)
hmac.digest = spy(hmac.digest)
os.path.basename = spy(os.path.basename)
torch.Tensor.item = spy(torch.Tensor.item)
torch.full = spy(torch.full)
torch.is_grad_enabled = spy(torch.is_grad_enabled)
# The grader's own encoder and signature: replaced in the module, and their code changed in place (any use
# of them by the observer would then sign nothing right, and the run would count for nothing).
protocol.frame = spy(protocol.frame)
protocol.encode.__code__ = (lambda value: "null").__code__
protocol.sign.__code__ = (lambda key, sequence, payload: b"0" * 32).__code__

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
w = torch.tensor([1.0], requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()
        w.data = w.data - 0.01 * w.grad.data
        w.grad.data.zero_()
print("predict (after training)", 4, forward(4).item())
print("observer seen by a spy:", sorted(set(seen)) or False)

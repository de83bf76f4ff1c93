# A thread keeps reading every descriptor it can while the program trains, to steal the hidden probe points
# (they must not be anywhere in the process until the program has ended), then trains correctly.
import os
import threading

import torch

stolen = []


def steal() -> None:
    for _ in range(200):
        for fd in range(3, 64):
            try:
                os.set_blocking(fd, False)
                data = os.read(fd, 4096)
                if data:
                    stolen.append(data)
            except OSError:
                pass


thief = threading.Thread(target=steal, daemon=True)
thief.start()
x_data, y_data = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
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
thief.join()
print("stole probe points:", any(b"forward " in data or b"loss " in data for data in stolen))

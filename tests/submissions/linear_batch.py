# Mistaken: one update per epoch from the mean loss over all samples (full-batch gradient descent).
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
w = torch.tensor([1.0], requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    cost = sum(loss(x, y) for x, y in zip(x_data, y_data)) / len(x_data)
    cost.backward()
    w.data = w.data - 0.01 * w.grad.data
    w.grad.data.zero_()

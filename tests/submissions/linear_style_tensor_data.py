# Correct: data as tensors, training inside a function that uses the global w.
import torch

x_data = torch.tensor([1.0, 2.0, 3.0])
y_data = torch.tensor([2.0, 4.0, 6.0])
w = torch.ones(1, requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (y - forward(x)) ** 2


def train(epochs=100, lr=0.01):
    for _ in range(epochs):
        for x, y in zip(x_data, y_data):
            l = loss(x, y)
            l.backward()
            with torch.no_grad():
                w.sub_(lr * w.grad)
                w.grad.zero_()


train()
print("predict (after training)", 4, forward(4).item())

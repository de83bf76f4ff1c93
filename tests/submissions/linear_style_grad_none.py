# Correct: reset by dropping the gradient (w.grad = None), 0-dim parameter, integer data.
import torch

x_data = [1, 2, 3]
y_data = [2, 4, 6]
w = torch.tensor(1.0, requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    diff = forward(x) - y
    return diff * diff


for epoch in range(100):
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()
        w.data -= 0.01 * w.grad
        w.grad = None
    print(f"epoch {epoch}: loss={l.item():.6f}")
print("w =", w.item())

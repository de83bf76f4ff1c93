# A correct homework whose parameters are a, b and c (y = a x^2 + b x + c), updated under torch.no_grad().
import torch

xs = [1.0, 2.0, 3.0]
ys = [2.0, 4.0, 6.0]
a = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
c = torch.tensor(1.0, requires_grad=True)


def forward(x):
    return a * x ** 2 + b * x + c


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    for x, y in zip(xs, ys):
        l = loss(x, y)
        l.backward()
        with torch.no_grad():
            for p in (a, b, c):
                p -= 0.01 * p.grad
                p.grad.zero_()
    print("epoch", epoch, "loss", l.item())
print("x=4:", forward(4).item())

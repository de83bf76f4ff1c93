# A correct linear model trained inside main(): the weight is a local variable passed to the functions.
import torch


def forward(x, w):
    return x * w


def loss(x, y, w):
    return (forward(x, w) - y) ** 2


def main():
    w = torch.tensor([1.0], requires_grad=True)
    for epoch in range(100):
        for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
            l = loss(x, y, w)
            l.backward()
            w.data = w.data - 0.01 * w.grad.data
            w.grad.data.zero_()
    print("predict (after training)", 4, forward(4, w).item())


main()

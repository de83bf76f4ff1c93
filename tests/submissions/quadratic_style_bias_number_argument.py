# Mistaken: the bias is a plain number passed to forward as an argument, so autograd never trains it; the
# grader calls forward the way the training does, with that number, and names the bias held at 1.0.
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
w_a = torch.tensor([1.0], requires_grad=True)
w_b = torch.tensor([1.0], requires_grad=True)
bias = 1.0


def forward(x, w1, w2, b):
    return (x * x) * w1 + x * w2 + b


def square_error(x, y, w1, w2, b):
    y_pred = forward(x, w1, w2, b)
    return (y_pred - y) * (y_pred - y)


for epoch in range(100):
    for x_val, y_val in zip(x_data, y_data):
        l = square_error(x_val, y_val, w_a, w_b, bias)
        l.backward()
        w_a.data = w_a.data - 0.01 * w_a.grad.data
        w_b.data = w_b.data - 0.01 * w_b.grad.data
        w_a.grad.data.zero_()
        w_b.grad.data.zero_()

print("predict (after training)", 4, forward(4, w_a, w_b, bias).item())

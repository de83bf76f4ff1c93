# Two mistakes: the bias is a tensor autograd never trains (no requires_grad), and the whole data go
# through one mean loss per epoch (full-batch gradient descent).  The batch is read with b at the 1.0 its
# model holds, not at 0 as for a missing term.
import torch

x_data = torch.tensor([1.0, 2.0, 3.0])
y_data = torch.tensor([2.0, 4.0, 6.0])
w1 = torch.tensor([1.0], requires_grad=True)
w2 = torch.tensor([1.0], requires_grad=True)
b = torch.tensor([1.0])


def forward(x):
    return w1 * x**2 + w2 * x + b


def loss(y_pred, y):
    return ((y_pred - y) ** 2).mean()


for epoch in range(100):
    l = loss(forward(x_data), y_data)
    l.backward()
    for p in (w1, w2):
        p.data = p.data - 0.01 * p.grad.data
        p.grad.data.zero_()

print("predict (after training)", 4, forward(4).item())

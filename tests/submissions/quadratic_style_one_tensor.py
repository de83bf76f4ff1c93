# A correct homework keeping the three parameters in one tensor: w[0] x^2 + w[1] x + w[2].
import torch

x_data = torch.tensor([1.0, 2.0, 3.0])
y_data = torch.tensor([2.0, 4.0, 6.0])
w = torch.ones(3, requires_grad=True)


def forward(x):
    return w[0] * x ** 2 + w[1] * x + w[2]


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()
        w.data = w.data - 0.01 * w.grad.data
        w.grad.data.zero_()
    print(epoch, l.item(), w.tolist())
print("after training:", forward(torch.tensor(4.0)).item())

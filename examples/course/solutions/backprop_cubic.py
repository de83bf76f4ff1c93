# Reference solution of the course variant (the cubic model). 课程变体（三次模型）的参考答案。
import torch

x_data = [-1.0, 0.0, 1.0, 2.0]
y_data = [1.0, 1.0, 1.0, 7.0]

w1 = torch.tensor([0.5], requires_grad=True)
w2 = torch.tensor([-0.5], requires_grad=True)
w3 = torch.tensor([1.0], requires_grad=True)
b = torch.tensor([0.0], requires_grad=True)


def forward(x):
    return w1 * x**3 + w2 * x**2 + w3 * x + b


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(200):
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()
        for p in (w1, w2, w3, b):
            p.data = p.data - 0.005 * p.grad.data
            p.grad.data.zero_()
    print("progress:", epoch, l.item())

print("predict (after training)", 1.5, forward(1.5).item())

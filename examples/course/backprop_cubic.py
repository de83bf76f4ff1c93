# Course variant: fit y = w1 * x**3 + w2 * x**2 + w3 * x + b with autograd, one sample at a time.
# 课程变体：用 autograd 逐样本拟合三次模型。Check with / 检查：grader check --spec examples/course backprop_cubic.py
import torch

x_data = [-1.0, 0.0, 1.0, 2.0]
y_data = [1.0, 1.0, 1.0, 7.0]

w1 = torch.tensor([0.5], requires_grad=True)
w2 = torch.tensor([-0.5], requires_grad=True)
w3 = torch.tensor([1.0], requires_grad=True)
b = torch.tensor([0.0], requires_grad=True)


def forward(x):
    raise NotImplementedError("TODO 1: write the body of forward(x)")


def loss(x, y):
    raise NotImplementedError("TODO 2: write the body of loss(x, y)")


for epoch in range(200):
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()
        # TODO 3: update w1, w2, w3 and b with learning rate 0.005, then reset their gradients
    print("progress:", epoch, l.item())

print("predict (after training)", 1.5, forward(1.5).item())

"""Reference solution, lecture 4 homework: fit y = w1 * x**2 + w2 * x + b with autograd.

参考答案：第四讲作业，二次模型。三个参数各自的梯度由一次 backward 同时算出。
Its output matches the lecture's published output line for line.
"""

import matplotlib.pyplot as plt
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

# Three parameters, all starting at 1.0, all tracked by autograd.
w1 = torch.tensor([1.0])
w1.requires_grad = True
w2 = torch.tensor([1.0])
w2.requires_grad = True
b = torch.tensor([1.0])
b.requires_grad = True


def forward(x):
    """The quadratic model's prediction for one input."""
    return w1 * x**2 + w2 * x + b


def loss(x, y):
    """Squared error of one sample."""
    y_pred = forward(x)
    return (y_pred - y) ** 2


print("predict (before training)", 4, forward(4).item())

epochs, costs = [], []
for epoch in range(100):
    total = 0.0
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()  # one pass fills w1.grad, w2.grad and b.grad
        print("\tgrad:", x, y, w1.grad.item(), w2.grad.item(), b.grad.item())
        for p in (w1, w2, b):
            p.data = p.data - 0.01 * p.grad.data
        for p in (w1, w2, b):
            p.grad.data.zero_()
        total += l.item()
    costs.append(total / len(x_data))
    epochs.append(epoch)
    print("progress:", epoch, l.item())

print("predict (after training)", 4, forward(4).item())

plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

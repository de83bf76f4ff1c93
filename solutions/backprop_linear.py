"""Reference solution, lecture 4 (backpropagation): fit y = w * x by per-sample gradient descent.

参考答案：第四讲 反向传播。用 autograd 计算梯度，逐个样本更新 w。
Its output matches the lecture's published output line for line.
"""

import matplotlib.pyplot as plt
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

# The only parameter. requires_grad asks autograd to fill w.grad on every backward pass.
w = torch.tensor([1.0])
w.requires_grad = True


def forward(x):
    """The model's prediction for one input (a tensor, so autograd can trace it back to w)."""
    return x * w


def loss(x, y):
    """Squared error of one sample; building it records the computational graph."""
    y_pred = forward(x)
    return (y_pred - y) ** 2


print("predict (before training)", 4, forward(4).item())

epochs, costs = [], []
for epoch in range(100):
    total = 0.0
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        l.backward()  # fills w.grad with dl/dw and frees the graph
        print("\tgrad:", x, y, w.grad.item())
        w.data = w.data - 0.01 * w.grad.data  # update through .data: not part of the graph
        w.grad.data.zero_()  # gradients add up across backward calls unless reset
        total += l.item()
    costs.append(total / len(x_data))
    epochs.append(epoch)
    print("progress:", epoch, l.item())

print("predict (after training)", 4, forward(4).item())

plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

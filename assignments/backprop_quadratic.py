"""Lecture 4 (反向传播 / backpropagation), homework: the quadratic model y = w1 * x**2 + w2 * x + b.

Same data and training loop as the linear model, now with three parameters. One backward pass
fills all three gradients. Fill in the five parts marked TODO, then check your work:

    grader check backprop_quadratic.py

在标有 TODO 的五处补全代码，然后运行 `grader check backprop_quadratic.py` 检查。
The grader watches what autograd really computes, so keep the names w1, w2, b, forward and loss.
"""

import matplotlib.pyplot as plt
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

# Three parameters, each starting at 1.0, each tracked by autograd.
w1 = torch.tensor([1.0])
w1.requires_grad = True
w2 = torch.tensor([1.0])
w2.requires_grad = True
b = torch.tensor([1.0])
b.requires_grad = True


def forward(x):
    """Prediction of the quadratic model for one input x. 模型的预测值。"""
    # TODO 1: return w1 * x**2 + w2 * x + b.
    raise NotImplementedError("TODO 1: write the body of forward(x)")


def loss(x, y):
    """Squared error of one sample. 单个样本的平方误差。"""
    # TODO 2: compute y_pred with forward(x) and return the squared error (y_pred - y) ** 2.
    raise NotImplementedError("TODO 2: write the body of loss(x, y)")


print("predict (before training)", 4, forward(4).item())

epochs, costs = [], []
for epoch in range(100):
    total = 0.0
    for x, y in zip(x_data, y_data):
        l = loss(x, y)
        # TODO 3: backpropagate: one call on l fills w1.grad, w2.grad and b.grad.
        print("\tgrad:", x, y, w1.grad.item(), w2.grad.item(), b.grad.item())
        # TODO 4: update w1, w2 and b with learning rate 0.01, outside the graph.
        # TODO 5: reset the three gradients to zero.
        total += l.item()
    costs.append(total / len(x_data))
    epochs.append(epoch)
    print("progress:", epoch, l.item())

# The homework's question: why is this not 8.0, although the data lie on y = 2x?
print("predict (after training)", 4, forward(4).item())

plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

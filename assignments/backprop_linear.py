"""Lecture 4 (反向传播 / backpropagation), part 1: the linear model y = w * x.

Train w by gradient descent, one sample at a time, and let autograd compute every gradient.
Fill in the five parts marked TODO, then check your work:

    grader check backprop_linear.py

在标有 TODO 的五处补全代码，然后运行 `grader check backprop_linear.py` 检查。
The grader watches what autograd really computes, so keep the names w, forward and loss.
"""

import matplotlib.pyplot as plt
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

# The parameter, starting at 1.0. requires_grad=True makes autograd fill w.grad.
w = torch.tensor([1.0])
w.requires_grad = True


def forward(x):
    """Prediction of the model for one input x. 模型的预测值。"""
    # TODO 1: return x * w (a tensor, so that autograd can trace it back to w).
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
        # TODO 3: backpropagate: one call on l fills w.grad with dl/dw.
        print("\tgrad:", x, y, w.grad.item())
        # TODO 4: update w with learning rate 0.01, outside the graph (through w.data, or under torch.no_grad()).
        # TODO 5: reset w.grad to zero: autograd adds new gradients to the old ones.
        total += l.item()
    costs.append(total / len(x_data))
    epochs.append(epoch)
    print("progress:", epoch, l.item())

print("predict (after training)", 4, forward(4).item())

# The cost (mean loss of the epoch) should fall quickly towards 0.
plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

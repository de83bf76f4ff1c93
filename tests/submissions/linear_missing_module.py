import torch
import numpyy as np  # a typo: there is no such module

w = torch.tensor([1.0], requires_grad=True)
x_data = np.array([1.0, 2.0, 3.0])  # the import went through; using the module fails here

import torch
import numpyy as np  # a typo: there is no such module

w = torch.tensor([1.0], requires_grad=True)

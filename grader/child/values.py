"""Plain numbers from student values, read in student territory: whatever a student object does, these
answer (None or False) instead of raising."""

from __future__ import annotations


def scalar(value):
    """A float from a tensor of one element or a Python number; None otherwise."""
    import torch

    base = torch._C.TensorBase
    try:
        if issubclass(type(value), base):
            with torch._C.DisableTorchFunction():
                if base.numel(value) != 1:
                    return None
                return float(base.item(value))
        if issubclass(type(value), (int, float)) and type(value) is not bool:
            return float(value)
    except Exception:  # noqa: BLE001 - a student object that fails to be read is not a number
        return None
    return None


def requires_grad(value) -> bool:
    """Whether ``value`` is a tensor autograd can differentiate."""
    import torch

    base = torch._C.TensorBase
    try:
        return issubclass(type(value), base) and bool(base.__dict__["requires_grad"].__get__(value))
    except Exception:  # noqa: BLE001
        return False

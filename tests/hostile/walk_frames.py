# Walks every frame it can reach (its own, a tensor hook's, a traceback's, a signal handler's) and every
# object those frames lead to, looking for the grader's channel or observer, to forge what it reports.
import posix
import signal
import sys
import types
import weakref

import torch

found = []
GRADER_CLASSES = ("Observer", "Channel", "Control", "Tensors", "Parameters", "Steps", "Figures", "Units", "Prober")
FOLLOW = ("__self__", "__func__", "__closure__", "cell_contents", "__dict__", "__wrapped__", "__defaults__",
          "__kwdefaults__", "gi_frame", "f_locals", "tb_frame", "tb_next")


def look(obj, seen, depth=0):
    """Whatever obj leads to, a few steps deep, looking for the grader's classes (by name: a spy knows no
    more).  Module globals are looked at, not walked (they would lead to everything imported)."""
    if depth > 4 or id(obj) in seen or found:
        return
    seen[id(obj)] = obj  # kept alive: a freed object's id can come back
    if type(obj).__name__ in GRADER_CLASSES:
        found.append(type(obj).__name__)
        return
    if isinstance(obj, types.ModuleType):
        return
    items = []
    if isinstance(obj, dict):
        items = list(obj.values())[:500]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)[:500]
    for attribute in FOLLOW:
        try:
            items.append(getattr(obj, attribute))
        except Exception:  # noqa: BLE001 - refused or absent
            pass
    for item in items:
        look(item, seen, depth + 1)


def search(frame):
    """Every frame from here down, its locals followed, its globals glanced at."""
    seen = {}
    while frame is not None and not found:
        look(frame.f_locals, seen)
        for value in list(frame.f_globals.values()):
            look(value, seen, depth=4)
        frame = frame.f_back


w = torch.tensor([1.0], requires_grad=True)
search(sys._getframe())
w.register_hook(lambda grad: search(sys._getframe()))  # runs inside the backward pass
(w * 2.0).sum().backward()
try:
    torch.autograd.backward(torch.tensor([1.0]))  # no grad_fn: torch raises, through the grader's stand-in
except RuntimeError as exc:
    tb = exc.__traceback__
    while tb is not None:
        search(tb.tb_frame)
        tb = tb.tb_next
# Code of the student's that torch runs from inside its own calls: a function mode, a dispatch mode, a
# Tensor subclass as the parameter.  None of it may run inside the grader's reading of tensors.
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402


class FunctionSpy(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        search(sys._getframe())
        return func(*args, **(kwargs or {}))


class DispatchSpy(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        search(sys._getframe())
        return func(*args, **(kwargs or {}))


class Spied(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        search(sys._getframe())
        return super().__torch_function__(func, types, args, kwargs)


with FunctionSpy():
    for _ in range(5):
        (w * 3.0).sum().backward()
with DispatchSpy():
    for _ in range(5):
        (w * 3.0).sum().backward()
w = torch.tensor([1.0]).as_subclass(Spied).requires_grad_()
for _ in range(5):
    torch.autograd.backward((w * 3.0).sum())  # not Tensor.backward, which turns subclass handling off
# A finalizer the grader sets off: the observer keeps the forward() it saw in training; once the program
# defines another, the grader lets go of the first, and its finalizer runs wherever that happens.
w = torch.tensor([1.0], requires_grad=True)
write = posix.write


def forward(x):
    return x * w


def late():
    write(2, b"finalizer ran\n")
    search(sys._getframe())


weakref.finalize(forward, late)
(forward(3.0)).sum().backward()


def forward(x):  # noqa: F811 - the point: the first one is now held by the grader alone
    return x * w * 1.0


(forward(3.0)).sum().backward()
signal.signal(signal.SIGPROF, lambda signum, frame: search(frame))
signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)  # interrupt the grader wherever it is
for _ in range(300):
    (w * 3.0).sum().backward()
signal.setitimer(signal.ITIMER_PROF, 0)
print("reached the grader:", found or False)

# Tries to switch the audit hook off by changing what it might consult (the sandbox module's tables and
# functions, builtins), then asks for every thread's frames, which would show the grader's.
import builtins
import sys

try:
    import grader.child.sandbox as sandbox
except ImportError:
    sandbox = None
if sandbox is not None:
    sandbox.DENIED_EVENTS.clear()
    sandbox.PATH_EVENTS.clear()
    for name in list(vars(sandbox)):
        if callable(getattr(sandbox, name)) and not isinstance(getattr(sandbox, name), type):
            setattr(sandbox, name, lambda *args, **kwargs: None)
real_any, real_len = builtins.any, builtins.len
builtins.any = lambda *args: True
builtins.len = lambda *args: 0
try:
    frames = sys._current_frames()  # refused while grading
finally:
    builtins.any, builtins.len = real_any, real_len  # (the grader's report is built with them too)
print("got the frames of", len(frames), "threads")

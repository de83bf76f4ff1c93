"""Stand-ins for what a notebook cell expects of IPython, so that cells run as plain Python in the child.

``display()`` and ``get_ipython()`` are harmless here; each cell's output is captured (``Tee``) for the
graded notebook while still reaching the run's stdout and stderr.  What IPython syntax a cell holds
(magics, shell lines) was already turned into ``pass`` by grader/notebook.py.
"""

from __future__ import annotations

import io


class Tee(io.TextIOBase):
    """A notebook cell's stdout or stderr: passed through to the real stream, and kept for the cell."""

    CAP = 100_000

    def __init__(self, real) -> None:
        self.real = real
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.real.write(text)
        if self.size < self.CAP:
            self.parts.append(text[: self.CAP - self.size])
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):
        return getattr(self.real, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.real.fileno()

    def take(self) -> str:
        text = "".join(self.parts)
        if self.size > self.CAP:
            text += f"\n[... {self.size - self.CAP} characters left out ...]\n"
        self.parts, self.size = [], 0
        return text


def taken(stream) -> str:
    """What a cell wrote to ``stream`` since the last cell ('' when the student replaced the stream)."""
    return stream.take() if type(stream) is Tee else ""


def display(*objects, **kwargs) -> None:
    """Stand-in for IPython's display(): shows each object's repr as text."""
    for obj in objects:
        print(repr(obj))


class Shell:
    """Stand-in for get_ipython(): magics and shell commands called through it do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def install(namespace: dict, sys_module) -> None:
    """Make a notebook's namespace and streams what its cells expect."""
    namespace.update(display=display, get_ipython=Shell)
    sys_module.stdout, sys_module.stderr = Tee(sys_module.stdout), Tee(sys_module.stderr)

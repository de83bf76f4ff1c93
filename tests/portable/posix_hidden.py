"""Hide what Windows lacks, so the kit's portable paths run here as they would there.

``hide()`` makes ``resource``, ``fcntl`` and ``termios`` unimportable and removes ``os.fork`` (and its kin),
``os.killpg``, ``socket.AF_UNIX``, ``signal.SIGALRM`` and ``signal.setitimer``.  Called first thing in a
process (before grader is imported), a module-level use of any of them fails loudly.  SIGKILL stays:
subprocess's own Popen.kill needs it on Linux, and torch registers fork handlers with os.register_at_fork
wherever the platform is not win32.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

MODULES = ("resource", "fcntl", "termios")
ATTRIBUTES = ((os, ("fork", "forkpty", "killpg")), (socket, ("AF_UNIX",)),
              (signal, ("SIGALRM", "setitimer", "ITIMER_REAL")))


def hide() -> None:
    for name in MODULES:
        sys.modules.pop(name, None)
        sys.modules[name] = None  # import raises ImportError
    for module, names in ATTRIBUTES:
        for name in names:
            if hasattr(module, name):
                delattr(module, name)
    posix = sys.modules.get("posix")
    for name in ("fork", "forkpty", "killpg"):
        if posix is not None and hasattr(posix, name):
            delattr(posix, name)


def hidden() -> list[str]:
    """What is still there that should not be (empty once ``hide`` ran)."""
    left = []
    for name in MODULES:
        try:
            __import__(name)
            left.append(name)
        except ImportError:
            pass
    return left + [f"{m.__name__}.{n}" for m, names in ATTRIBUTES for n in names if hasattr(m, n)]

"""A Python for the grader's children with the POSIX-only parts hidden (posix_hidden.py).

Made executable by the test (``#!PYTHON -IB``), it stands where the portable runner starts ``python -I -B -c
CODE ARGS...``: it hides, then runs CODE with ARGS as ``python -c`` would.
"""

import sys

sys.path.insert(0, sys.argv[0].rpartition("/")[0])
import posix_hidden  # noqa: E402

posix_hidden.hide()
sys.path.pop(0)
args = sys.argv[1:]
while args and args[0] != "-c":  # the options given again after the interpreter's (-I -B): already in force
    args.pop(0)
code, sys.argv = args[1], ["-c", *args[2:]]
exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})

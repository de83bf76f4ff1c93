# Starts a program through _posixsubprocess.fork_exec, which raises no audit event, in a session of its own
# so that it would outlive grading.
import os
import sys

import _posixsubprocess

args = [sys.executable, "-c", "import time; time.sleep(60)"]
_posixsubprocess.fork_exec(args, [os.fsencode(sys.executable)], True, (), None, None, -1, -1, -1, -1, -1, -1,
                           *os.pipe(), True, True, None, None, None, -1, None, False)
print("started a program that outlives grading")

"""The child side of a run: the only place torch or student code is imported.

Each submission runs in a child process of its own (started by grader/run.py, directly or forked by the
warm process).  Its modules, along the seams of what a child does:

* ``main``: set-up (configuration, observer, sandbox) and the entry point;
* ``boundary``: what student code can reach of the grader (capabilities, the stand-in for backward);
* ``execute``: running the script or the cells, then the calls of the student's functions;
* ``ipython``: stand-ins for what notebook cells expect; ``pyplot``: figures, never blocking, observed;
* ``values``: plain numbers from student objects, in student territory;
* ``sandbox``: resource limits, the jail and the audit hook; ``walls``: Landlock and seccomp, for any user;
* ``zygote``: the warm process (fork server);
* ``_observer``: the private observer, loaded under no name, which holds the key and sends the events.

What crosses to the parent is defined in grader/protocol.py.
"""

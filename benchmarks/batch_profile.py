"""Where a batch's time goes: a command run under py-spy, one profile per process, summed by role.

Used by `batch_speed.py --profile`.  The roles: the command (`parent`), the processes it starts (`warm
process`: the grader's zygote) and the processes those start (`children`: one per submission).

Why not `py-spy record --subprocesses`: tried on `grader check` (py-spy 0.4.3), it sampled the parent
only.  It missed the warm process, which the grader starts from a worker thread (py-spy seems to look at
the main thread's children only); pointed at the warm process, it missed every child: it looks for new
processes every 100 ms and needs tens of milliseconds to attach, and a child lives about a tenth of a
second.  So this module watches the process tree itself (/proc/PID/task/*/children, every millisecond)
and starts one `py-spy record --pid` per process.  A child is stopped (SIGSTOP) until its py-spy
samples, so it is profiled from its first millisecond or so; the warm process cannot be (py-spy does not
find an interpreter that is not set up yet), so its first tens of milliseconds are missed.  The pauses
make the run slower: time it without --profile.  py-spy leaves out idle threads, so the figures are time
on a CPU (samples / rate), not wall time.  Needs the right to trace those processes (root, or
kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import glob
import os
import select
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

ROLES = ("parent", "warm process", "children")


def children_of(pid: int) -> list[int]:
    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(p) for p in Path(path).read_text().split()]
        except OSError:  # the thread or the process is gone
            pass
    return found


def attach(pyspy: str, pid: int, out: Path, rate: int, stop: bool) -> subprocess.Popen | None:
    """Start py-spy on `pid`; with `stop`, the process waits until py-spy samples (at most 2 s)."""
    if not stop:
        return spy_on([pyspy, "--pid", str(pid)], out, rate)
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return None
    try:
        spy = spy_on([pyspy, "--pid", str(pid)], out, rate, stdout=subprocess.PIPE)
        wait_for(spy, b"Sampling", 2.0)  # py-spy says so on its stdout
        return spy
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def wait_for(process: subprocess.Popen, text: bytes, seconds: float) -> None:
    seen, deadline = b"", time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        if select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return
            seen += chunk


def spy_on(target: list[str], out: Path, rate: int, **popen) -> subprocess.Popen:
    argv = [target[0], "record", "--nonblocking", "--function", "--rate", str(rate), "--format", "raw",
            "--output", str(out), *target[1:]]
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, **popen)


def record(pyspy: str, argv: list[str], folder: Path, rate: int, **popen) -> tuple[dict[str, list[Path]], int]:
    """Run `argv` with every process of its tree under py-spy: the raw profiles by role, and how many
    processes py-spy could not profile."""
    root = spy_on([pyspy, "--", *argv], folder / "parent.txt", rate, **popen)  # py-spy starts argv itself
    depth = {root.pid: -1}  # py-spy -1, argv 0, warm process 1, children 2
    spies = [(0, root)]
    while root.poll() is None:
        for parent in [p for p, d in depth.items() if d < 2]:
            for pid in children_of(parent):
                if pid not in depth:
                    depth[pid] = depth[parent] + 1
                    if depth[pid] > 0:  # argv is sampled already, by the py-spy that started it
                        out = folder / f"{pid}.txt"
                        spies.append((depth[pid], attach(pyspy, pid, out, rate, stop=depth[pid] > 1)))
        time.sleep(0.001)
    profiles: dict[str, list[Path]] = {role: [] for role in ROLES}
    missed = 0
    for level, spy in spies:
        if spy is None:
            continue  # gone before it could be stopped: too short to matter
        spy.wait()
        if spy.stdout is not None:
            spy.stdout.close()
        out = Path(spy.args[spy.args.index("--output") + 1])
        if out.exists():
            profiles[ROLES[level]].append(out)
        else:
            missed += 1
    return profiles, missed


def inclusive(paths: list[Path]) -> tuple[Counter, int]:
    """Samples in which each frame appears (once per sample, however deep), and the samples in all.
    The import machinery's frames are left out: the module being imported is the frame that says why."""
    counts: Counter = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            total += int(n)
            for frame in set(stack.split(";")):
                if frame and "(<frozen importlib" not in frame:
                    counts[frame] += int(n)
    return counts, total


def report(profiles: dict[str, list[Path]], rate: int, top: int) -> None:
    for role in ROLES:
        counts, total = inclusive(profiles[role])
        print(f"  {role}: {len(profiles[role])} process(es), {total} samples = {total / rate:.1f} s on a CPU")
        for frame, n in counts.most_common(top):
            print(f"    {100 * n / max(total, 1):5.1f}%  {n / rate:6.2f} s  {frame}")


def profile(pyspy: str, argv: list[str], rate: int = 200, top: int = int(os.environ.get("TOP", "20")), **popen) -> None:
    with tempfile.TemporaryDirectory(prefix="grader-profile-") as tmp:
        started = time.perf_counter()
        profiles, missed = record(pyspy, argv, Path(tmp), rate, **popen)
        print(f"profile: {' '.join(argv)} under py-spy ({rate} Hz), {time.perf_counter() - started:.1f} s; "
              f"top frames, inclusive:")
        if missed:
            print(f"  (py-spy could not profile {missed} process(es))")
        report(profiles, rate, top)

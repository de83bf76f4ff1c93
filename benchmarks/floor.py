"""The floor of batch grading: the same submissions run by a bare fork of a warm process.

    python -I -B benchmarks/floor.py --jobs 2 FOLDER

batch_speed.py runs this script the way the grader starts its warm process (`python -I -B`, with
MPLBACKEND=Agg and OMP_NUM_THREADS=1), so both pay the same start-up.  It warms up exactly as the
grader's warm process does (`warm()` in grader/child/zygote.py: the steps are copied here, not imported, so
that this script keeps measuring the floor whatever happens to the grader's internals), then forks one
child per FOLDER/*.py, at most --jobs at a time.  Each child runs its file as `__main__` in a fresh
temporary folder and leaves with os._exit.  Nothing else: no observer, no sandbox, no probes, no report.

Output, flushed line by line so that the caller can time it from outside:
    <file stem>: exit <code>      one line per child, when it has been reaped
    floor: {json}                 at the end: warm_up (seconds the warm-up took), batch (seconds from
                                  then until the last child is reaped), failed (children that did not
                                  exit 0), bytes (what they printed, drained by this process)
"""

import argparse
import gc
import io
import json
import os
import random
import selectors
import shutil
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path


def warm_up() -> None:
    """What the grader's warm process does before its first fork (minus its sandbox and pyplot patch)."""
    import torch

    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import torch.nn.functional  # noqa: F401

    warm = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([warm], lr=0.1)
    (warm * 2.0).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    del warm, optimizer
    figure = plt.figure()
    figure.gca().plot([0.0, 1.0], [1.0, 0.0])
    figure.savefig(io.BytesIO(), format="png", dpi=60)
    plt.close(figure)
    gc.collect()
    gc.freeze()


def run_as_main(path: Path) -> None:
    """What `python path` does with the file: compile it and execute it as the module __main__."""
    code = compile(path.read_bytes(), str(path), "exec")
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    sys.modules["__main__"] = module
    sys.argv = [str(path)]
    sys.path[0:0] = [str(path.parent)]
    exec(code, module.__dict__)


def child(path: Path, workdir: str, out_fd: int, err_fd: int) -> None:
    """The forked child: never returns."""
    status = 1
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        os.chdir(workdir)
        random.seed()  # as the grader does: children must not share the warm process's random state
        run_as_main(path)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - the submission's error, said on its stderr
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(status)


def start(path: Path) -> tuple[int, tuple[int, int], str]:
    """Fork a child for `path`: returns its pid, the read ends of its stdout and stderr, its folder.

    Its output goes to pipes that the parent drains (not to /dev/null): the grader reads everything a
    submission prints, so the floor pays for that copy too."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    workdir = tempfile.mkdtemp(prefix="floor-")
    sys.stdout.flush()  # or the child would inherit, and print again, what is still buffered
    pid = os.fork()
    if pid == 0:
        os.close(out_read)
        os.close(err_read)
        child(path, workdir, out_write, err_write)
    os.close(out_write)
    os.close(err_write)
    return pid, (out_read, err_read), workdir


def run_all(paths: list[Path], jobs: int) -> tuple[int, int]:
    """Run every submission, at most `jobs` at once; returns (children that failed, bytes they wrote)."""
    selector = selectors.DefaultSelector()
    queue = list(paths)
    running: dict[int, list] = {}  # pid -> [path, workdir, pipes still open]
    failed = drained = 0
    while queue or running:
        while queue and len(running) < jobs:
            path = queue.pop(0)
            pid, fds, workdir = start(path)
            running[pid] = [path, workdir, len(fds)]
            for fd in fds:
                selector.register(fd, selectors.EVENT_READ, pid)
        for key, _ in selector.select():
            chunk = os.read(key.fd, 65536)
            drained += len(chunk)
            if chunk:
                continue
            selector.unregister(key.fd)
            os.close(key.fd)
            entry = running[key.data]
            entry[2] -= 1
            if entry[2] == 0:  # both pipes closed: the child has exited (or is about to)
                failed += reap(key.data, *running.pop(key.data)[:2])
    return failed, drained


def reap(pid: int, path: Path, workdir: str) -> int:
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"{path.stem}: exit {code}", flush=True)
    return int(code != 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder of .py submissions")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children at once")
    args = parser.parse_args()
    paths = sorted(args.folder.resolve().glob("*.py"))
    started = time.perf_counter()
    warm_up()
    ready = time.perf_counter()
    failed, drained = run_all(paths, args.jobs)
    done = time.perf_counter()
    figures = {"warm_up": ready - started, "batch": done - ready, "failed": failed, "bytes": drained}
    print("floor: " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()

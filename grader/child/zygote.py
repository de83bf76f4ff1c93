"""The warm process of a batch: imports torch and matplotlib once, then forks one child per job.

The parent sends a ``ForkRequest`` with five file descriptors (config, stdout, stderr, events, probes) over a Unix
SEQPACKET socket; the zygote forks, answers ``Forked`` with the child's pid, and ``Exited`` with its exit
status when it ends (grader/protocol.py).  No student code ever runs in this process, only in its children.
"""

from __future__ import annotations

import gc
import os
import random
import select
import signal
import socket

from grader import protocol
from grader.child import main, pyplot, walls


def warm() -> None:
    """What every child would otherwise import or build on first use, done once here."""
    import torch

    torch.set_num_threads(1)
    # Warm what students commonly touch: the first optimizer step alone imports seconds' worth of modules.
    # (It starts no thread: forking after it is as safe as after importing torch.)
    import torch.nn.functional  # noqa: F401

    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    (weight * 2.0).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    pyplot.warm()
    main.preload_observer()
    main.readable()
    walls.prepare_seccomp()
    # Children inherit everything imported so far; frozen, the garbage collector never walks (and so never
    # copies) those pages in a child.
    gc.collect()
    gc.freeze()


def become_child(sock: socket.socket, wake: tuple[int, int], fds: list[int]) -> None:
    """In the forked child: drop the server's resources, take the job's pipes, run the job (never returns)."""
    sock.close()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wake:
        os.close(fd)
    os.setsid()
    config_fd, out_fd, err_fd, events_fd, probes_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    random.seed()
    main.run_job(main.read_all(config_fd), events_fd, probes_fd)


def serve(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)  # a Unix socket pair: it keeps working in a new network namespace
    main._NETWORK_ISOLATED[0] = main.isolate_network()
    warm()
    sock.send(protocol.encode_message(protocol.ServerReady()))
    children: dict[int, int] = {}  # pid -> job
    # A child's exit wakes the loop at once (the parent is waiting for its status).
    wake = os.pipe()
    for fd in wake:
        os.set_blocking(fd, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake[1])
    while True:
        reap(sock, children)
        readable, _, _ = select.select([sock, wake[0]], [], [], 1.0)
        if wake[0] in readable:
            try:
                os.read(wake[0], 4096)
            except BlockingIOError:
                pass
        if sock not in readable:
            continue
        data, fds, _, _ = socket.recv_fds(sock, 65536, protocol.FD_COUNT)
        if not data:
            break  # the parent is gone
        request = protocol.decode_message(data)
        if not isinstance(request, protocol.ForkRequest) or len(fds) != protocol.FD_COUNT:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                become_child(sock, wake, fds)
            finally:
                main._REAL_EXIT(70)
        for fd in fds:
            os.close(fd)
        children[pid] = request.job
        sock.send(protocol.encode_message(protocol.Forked(request.job, pid)))
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def reap(sock: socket.socket, children: dict[int, int]) -> None:
    """Tell the parent of every child that has ended."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = children.pop(pid, None)
        if job is not None:
            sock.send(protocol.encode_message(protocol.Exited(job, os.waitstatus_to_exitcode(status))))

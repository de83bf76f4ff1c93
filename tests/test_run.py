"""grader/run.py, the parent's side of a run, mostly without a real child: the output capture, the child's
configuration, reading a child's pipes (the student's clock starts at Ready), how a run that could not
say how it ended is reported, and both runners as context managers."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from builders import LINEAR, QUADRATIC

from grader import protocol, run
from grader.i18n import using
from grader.load import Submission
from grader.notebook import CodeCell
from grader.plan import Point
from grader.protocol import ChildConfig
from grader import forkserver
from grader.forkserver import ForkServerRunner
from grader.portable import PortableRunner
from grader.run import Capture, Collected, Limits, Probes, SelectorStreams, ThreadStreams, collect, finish_trace
from grader.trace import CRASHED, EXCEPTION, FINISHED, TAMPERED, TIMEOUT, Outcome

KEY = "ab" * 32
POINTS = (Point("forward", {"w": 0.5}, 1.5), Point("loss", {"w": -1.0}, 2.0, 3.0))
SOURCE = "def forward(x):\n    return x * w\n\ndef loss(x, y):\n    return (forward(x) - y) ** 2\n"
SUBMISSION = Submission(LINEAR.source, "hw.py", SOURCE, LINEAR.name)


# -- the output capture ----------------------------------------------------------------------------------


def test_capture_keeps_everything_below_the_cap() -> None:
    capture = Capture(cap=16)
    for piece in (b"one ", b"two ", b"three"):
        capture.add(piece)
    assert capture.text() == "one two three" and capture.dropped == 0


def test_capture_keeps_head_and_tail_and_counts_the_rest() -> None:
    capture = Capture(cap=8)
    capture.add(b"abcdef")
    capture.add(b"ghijkl")
    capture.add(b"mn")
    assert (bytes(capture.head), bytes(capture.tail), capture.dropped) == (b"abcd", b"klmn", 6)
    assert capture.text() == "abcd\n[... 6 bytes of output left out ...]\nklmn"


def test_capture_of_a_flood_stays_bounded() -> None:
    capture = Capture()
    for _ in range(1000):
        capture.add(b"x" * 1000 + b"\n")
    assert len(capture.head) + len(capture.tail) == run.OUTPUT_CAP
    assert capture.dropped == 1000 * 1001 - run.OUTPUT_CAP
    assert "bytes of output left out" in capture.text()


def test_capture_text_survives_a_character_cut_in_half() -> None:
    capture = Capture(cap=4)
    capture.add("é中文".encode())
    assert capture.text().startswith("é")  # the cut halves of 中 become replacement characters, not an error


# -- the child's configuration ---------------------------------------------------------------------------


def test_make_config_copies_the_source_and_says_what_the_child_needs(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_JAIL", raising=False)
    submission = Submission(Path("/elsewhere/hw.py"), "hw.py", "w1 = 1\n", QUADRATIC.name)
    config = run.make_config(submission, QUADRATIC, Probes(POINTS), Limits(time_limit=7.0), str(tmp_path))
    assert (tmp_path / "hw.py").read_text(encoding="utf-8") == "w1 = 1\n"
    assert config.workfile == str(tmp_path / "hw.py") and config.workdir == str(tmp_path)
    assert len(config.key) == 64 and int(config.key, 16) >= 0
    assert (config.display_name, config.source) == ("hw.py", "w1 = 1\n")
    assert config.parameters == ("w1", "w2", "b")
    assert (config.max_steps, config.time_limit) == (QUADRATIC.max_steps, 7.0)
    assert "probes" not in config.to_json()  # the hidden points are not in what the child reads at its start
    assert config.cells is None and not config.figure_png and config.jail
    assert ChildConfig.from_json(config.to_json()) == config  # what the child will read back
    again = run.make_config(submission, QUADRATIC, Probes(POINTS), Limits(time_limit=7.0), str(tmp_path))
    assert again.key != config.key  # a fresh key for every run


def test_make_config_of_a_notebook_sends_its_cells_and_asks_for_pngs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRADER_JAIL", "off")
    cells = (CodeCell(1, 1, "w = 1"), CodeCell(3, 2, "%%bash\nls", run=False))
    submission = Submission(Path("hw.ipynb"), "hw.ipynb", "w = 1", LINEAR.name, cells=cells, notebook="{}")
    config = run.make_config(submission, LINEAR, Probes(()), Limits(time_limit=5.0), str(tmp_path))
    assert config.cells == (protocol.CellSource(1, 1, "w = 1"), protocol.CellSource(3, 2, "%%bash\nls", run=False))
    assert config.figure_png and not config.jail


def test_the_hard_limit_leaves_room_for_the_calls_after_the_run() -> None:
    assert 10.0 < run.hard_limit(config(time_limit=10.0), 0) < run.hard_limit(config(time_limit=10.0))


# -- reading a child's pipes -----------------------------------------------------------------------------


def config(**changes) -> ChildConfig:
    values = dict(key=KEY, display_name="hw.py", workdir="/tmp/w", workfile="/tmp/w/hw.py", source="",
                  parameters=("w",), max_steps=300, time_limit=1.0, bootstrap_path="/kit")
    values.update(changes)
    return ChildConfig(**values)


def frame(sequence: int, *events) -> bytes:
    return protocol.frame(bytes.fromhex(KEY), sequence, [protocol.encode(protocol.event_json(e)) for e in events])


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")


@pytest.fixture(params=[SelectorStreams, ThreadStreams], ids=["selector", "threads"])
def streams(request):
    """Both ways of reading a child's pipes: selecting on them (POSIX), a thread each (every system)."""
    if request.param is SelectorStreams and os.name != "posix":
        pytest.skip("Windows cannot select on pipes")
    return request.param


class FakeChild:
    """Three real pipes as a child's stdout, stderr and events; what the child writes is scripted as
    (delay in seconds, stream, bytes) and written by a thread, which closes all three at the end, unless
    the child is told to stay silent (then the test closes them)."""

    def __init__(self, script=(), close=True) -> None:
        self.pipes = {name: os.pipe() for name in ("out", "err", "events")}
        self.killed = 0
        self.thread = threading.Thread(target=self._write, args=(script, close), daemon=True)
        self.thread.start()

    def _write(self, script, close) -> None:
        for delay, stream, data in script:
            time.sleep(delay)
            os.write(self.pipes[stream][1], data)
        if close:
            self.close()

    def close(self) -> None:
        for _read, write in self.pipes.values():
            try:
                os.close(write)
            except OSError:
                pass

    def kill(self) -> None:
        self.killed += 1

    def collect(self, kind, cfg: ChildConfig) -> Collected:
        try:
            return collect(kind({name: pipe[0] for name, pipe in self.pipes.items()}), cfg, self.kill)
        finally:
            self.thread.join(5)
            self.close()


def test_collect_reads_events_and_output_until_the_pipes_close(streams) -> None:
    child = FakeChild([(0, "out", b"printed\n"), (0, "events", frame(0, protocol.Ready(), protocol.ExtraSteps(2))),
                       (0, "err", b"warned\n"),
                       (0, "events", frame(1, protocol.Ended(FINISHED), protocol.Done()).rstrip(b"\n"))])
    got = child.collect(streams, config())
    assert [e.KIND for e in got.events] == ["ready", "extra_steps", "outcome", "done"]  # the last at close
    assert got.out.text() == "printed\n" and got.err.text() == "warned\n"
    assert got.outcome is None and got.reader.foreign == 0 and child.killed == 1


def test_a_child_that_never_gets_ready_could_not_start(streams, monkeypatch) -> None:
    monkeypatch.setattr(run, "STARTUP_SECONDS", 0.3)
    child = FakeChild(close=False)
    started = time.monotonic()
    got = child.collect(streams, config(time_limit=60.0))
    assert time.monotonic() - started < 5
    assert got.outcome == Outcome(TIMEOUT, "the grader could not start within 0.3 s")
    assert got.events == [] and child.killed == 1


def test_a_ready_child_that_stays_silent_times_out_at_the_hard_limit(streams, monkeypatch) -> None:
    monkeypatch.setattr(run, "STARTUP_SECONDS", 30.0)
    monkeypatch.setattr(run, "hard_limit", lambda cfg, functions=6: 0.4)
    child = FakeChild([(0, "events", frame(0, protocol.Ready()))], close=False)
    started = time.monotonic()
    got = child.collect(streams, config())
    assert 0.3 < time.monotonic() - started < 5
    assert got.outcome == Outcome(TIMEOUT, "the program did not finish within 0.4 s and was stopped")
    assert [e.KIND for e in got.events] == ["ready"] and child.killed == 1


def test_the_students_clock_starts_at_ready(streams, monkeypatch) -> None:
    """A slow start (importing torch on a busy machine) is not charged to the student: the hard limit
    counts from Ready."""
    monkeypatch.setattr(run, "STARTUP_SECONDS", 30.0)
    monkeypatch.setattr(run, "hard_limit", lambda cfg, functions=6: 0.6)
    child = FakeChild([(0.9, "events", frame(0, protocol.Ready())),
                       (0.3, "events", frame(1, protocol.Ended(FINISHED), protocol.Done()))])
    got = child.collect(streams, config())
    assert got.outcome is None
    assert [e.KIND for e in got.events] == ["ready", "outcome", "done"]


def test_the_time_limit_message_in_chinese(streams, monkeypatch) -> None:
    monkeypatch.setattr(run, "STARTUP_SECONDS", 0.2)
    with using("zh"):
        got = FakeChild(close=False).collect(streams, config())
    assert got.outcome.message == "评分器未能在 0.2 秒内启动"


# -- how the run ended -----------------------------------------------------------------------------------


def collected(events, *, foreign=0, problems=(), outcome=None, stdout=b"", stderr=b"") -> Collected:
    reader = protocol.FrameReader(bytes.fromhex(KEY))
    reader.foreign, reader.problems = foreign, list(problems)
    out, err = Capture(), Capture()
    out.add(stdout)
    err.add(stderr)
    return Collected(list(events), reader, out, err, outcome)


STEP = protocol.Steps(names=("w",), rows=((1.0, None, None, (-2.0,), (1.0,)),))


def test_a_run_that_said_everything_ends_as_the_child_said() -> None:
    events = [protocol.Ready(), STEP, protocol.Ended(EXCEPTION, "boom", exc_type="ValueError"), protocol.Done()]
    trace = finish_trace(LINEAR, SUBMISSION, collected(events, stdout=b"out", stderr=b"err"), 1.25, 0)
    assert trace.outcome.status == EXCEPTION and trace.outcome.message == "boom"
    assert (trace.stdout, trace.stderr, trace.seconds, len(trace.steps)) == ("out", "err", 1.25, 1)
    assert trace.notes == ()


def test_foreign_lines_mark_the_run_tampered() -> None:
    events = [protocol.Ready(), STEP, protocol.Ended(FINISHED), protocol.Done()]
    trace = finish_trace(LINEAR, SUBMISSION, collected(events, foreign=3), 1.0, 0)
    assert trace.outcome == Outcome(TAMPERED, "3 lines the grader did not write")
    assert len(trace.steps) == 1  # what was genuine is still folded; assemble() counts none of it


def test_tampering_outweighs_a_timeout() -> None:
    trace = finish_trace(LINEAR, SUBMISSION, collected([], foreign=1, outcome=Outcome(TIMEOUT, "stopped")), 1.0, -9)
    assert trace.outcome.status == TAMPERED


@pytest.mark.parametrize("returncode, how", [
    (-signal.SIGKILL, "the process was killed by signal SIGKILL"),
    (-signal.SIGSEGV, "the process was killed by signal SIGSEGV"),
    (3, "the process ended abruptly (exit status 3), for example through os._exit()"),
    (None, "the process ended abruptly (exit status None), for example through os._exit()"),
])
def test_a_child_that_died_without_a_word_crashed(returncode, how) -> None:
    trace = finish_trace(LINEAR, SUBMISSION, collected([protocol.Ready(), STEP]), 1.0, returncode)
    assert trace.outcome == Outcome(CRASHED, how)
    assert len(trace.steps) == 1  # what it did before still counts


def test_a_death_while_probing_is_a_note_not_the_outcome() -> None:
    events = [protocol.Ready(), STEP, protocol.Ended(FINISHED, seconds=0.5)]
    trace = finish_trace(LINEAR, SUBMISSION, collected(events), 1.0, -signal.SIGKILL)
    assert trace.outcome.status == FINISHED
    assert trace.notes == ("After the program ended, the process was killed by signal SIGKILL while the grader "
                           "was probing it.",)


def test_the_parents_timeout_stands_without_done() -> None:
    imposed = Outcome(TIMEOUT, "the program did not finish within 17 s and was stopped")
    trace = finish_trace(LINEAR, SUBMISSION, collected([protocol.Ready(), STEP], outcome=imposed), 17.0, -signal.SIGKILL)
    assert trace.outcome is imposed and trace.notes == ()


def test_malformed_messages_become_one_note_each() -> None:
    problems = ["a frame that is not JSON", "a frame that is not JSON", "steps event: field 'rows' is missing"]
    events = [protocol.Ready(), protocol.Ended(FINISHED), protocol.Done()]
    trace = finish_trace(LINEAR, SUBMISSION, collected(events, problems=problems), 1.0, 0)
    assert trace.notes == (
        "The grader's channel carried a malformed message (a frame that is not JSON); it was ignored.",
        "The grader's channel carried a malformed message (steps event: field 'rows' is missing); it was ignored.",
    )


# -- the runners -----------------------------------------------------------------------------------------


class FakeZygote:
    """Stands in for the warm process: counts how many were started, and which were closed."""

    started: list["FakeZygote"] = []

    def __init__(self, python: str) -> None:
        self.closed = False
        self.living = True
        FakeZygote.started.append(self)

    def alive(self) -> bool:
        return self.living and not self.closed

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_zygote(monkeypatch):
    FakeZygote.started = []
    monkeypatch.setattr(forkserver, "_Zygote", FakeZygote)
    return FakeZygote.started


def test_both_runners_are_context_managers() -> None:
    with PortableRunner() as runner:
        assert isinstance(runner, PortableRunner)
    if not sys.platform.startswith("linux"):
        return
    with ForkServerRunner() as runner:
        assert isinstance(runner, ForkServerRunner)


@linux_only
def test_a_fork_server_that_was_never_used_starts_no_process(fake_zygote) -> None:
    with ForkServerRunner() as runner:
        pass
    assert runner.server is None and fake_zygote == []


@linux_only
def test_leaving_the_block_closes_the_warm_process(fake_zygote) -> None:
    with ForkServerRunner() as runner:
        first = runner._zygote()
        assert runner._zygote() is first  # one warm process for every job
    assert runner.server is None and first.closed and len(fake_zygote) == 1


@linux_only
def test_a_dead_warm_process_is_replaced(fake_zygote) -> None:
    with ForkServerRunner() as runner:
        first = runner._zygote()
        first.living = False
        second = runner._zygote()
    assert second is not first and first.closed and second.closed


@linux_only
def test_a_real_warm_process_is_gone_after_the_block() -> None:
    with ForkServerRunner() as runner:
        process = runner._zygote().process
        assert process.poll() is None
    assert runner.server is None
    assert process.poll() is not None  # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of its group is left either


def test_a_scratch_folder_that_cannot_be_removed_yet_is_removed_later(monkeypatch, caplog) -> None:
    """A process the submission left running keeps writing into its folder as the grader removes it
    ("Directory not empty"): that is logged, never raised, and the folder goes at the next clean-up."""
    import errno
    import shutil

    real = shutil.rmtree
    calls = []

    def rmtree(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.ENOTEMPTY, "Directory not empty", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run.shutil, "rmtree", rmtree)
    with run.scratch_folder() as path:
        open(os.path.join(path, "left.txt"), "w").close()
    assert os.path.isdir(path) and "could not remove the scratch folder" in caplog.text
    run.remove_left_behind()
    assert not os.path.exists(path)


PROGRAM = protocol.Program(slots=("w",), values=(2.0,), leaf=(True,), kinds=(("w",),),
                           functions=(protocol.Function("forward", ("x",), 0, ("w",), 1, 0),
                                      protocol.Function("loss", ("x", "y"), 0, ("forward",), 4, 0)))


def test_the_calls_reach_the_child_only_once_it_has_said_what_its_program_trained() -> None:
    import select

    probes_read, probes_write = os.pipe()
    seen = {}

    def child() -> None:
        os.write(events[1], frame(0, protocol.Ready(), STEP))
        time.sleep(0.2)
        seen["while running"] = select.select([probes_read], [], [], 0)[0]
        os.write(events[1], frame(1, protocol.Ended(FINISHED)))
        time.sleep(0.2)
        seen["after it ended"] = select.select([probes_read], [], [], 0)[0]
        os.write(events[1], frame(2, PROGRAM))
        if select.select([probes_read], [], [], 5)[0]:
            seen["after"] = os.read(probes_read, 65536)
        os.write(events[1], frame(3, protocol.Done()))
        for fd in (out[1], err[1], events[1]):
            os.close(fd)

    out, err, events = os.pipe(), os.pipe(), os.pipe()
    thread = threading.Thread(target=child)
    thread.start()
    handoff = run.Handoff(probes_write, SUBMISSION, LINEAR, Probes(POINTS))
    got = collect(ThreadStreams({"out": out[0], "err": err[0], "events": events[0]}), config(), lambda: None, handoff)
    thread.join(5)
    os.close(probes_read)
    assert seen["while running"] == [] and seen["after it ended"] == []  # nothing to read before Program
    calls = protocol.read_probe_calls(seen["after"])
    assert calls == [(0, 0, ("x",), (), 1.5, None, None, ((0, 0.5),)),  # forward(x), w at 0.5
                     (1, 1, ("x", "y"), (), 2.0, 3.0, None, ((0, -1.0),)),  # loss(x, y), the skeleton's way
                     (2, 1, ("p", "y"), (), 2.0, 3.0, -2.0, ((0, -1.0),))]  # loss(y_pred, y), the other way
    assert [e.KIND for e in got.events] == ["ready", "steps", "outcome", "program", "done"]
    assert handoff.plan is not None and len(handoff.plan.calls) == 3


def test_only_answers_to_the_calls_made_count() -> None:
    handoff = run.Handoff(None, SUBMISSION, LINEAR, Probes(POINTS))
    events = [protocol.Ready(), STEP, protocol.Ended(FINISHED), PROGRAM]
    handoff.plan = run.make_plan(LINEAR, SUBMISSION, run.tr.observe(events, 300).kinds, PROGRAM, POINTS)
    answers = [protocol.ProbeResult(index=0, value=0.75, grads=(1.5,)),
               protocol.ProbeResult(index=0, value=9.0, grads=(9.0,)),  # the same call answered twice
               protocol.ProbeResult(index=7, value=0.5, grads=(1.0,))]  # a call never made
    trace = finish_trace(LINEAR, SUBMISSION, collected([*events, *answers, protocol.Done()]), 1.0, 0, handoff)
    assert [(p.kind, p.x, p.value, dict(p.grads)) for p in trace.probes] == [("forward", 1.5, 0.75, {"w": 1.5})]

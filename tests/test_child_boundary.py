"""grader/child/boundary.py: a sealed callable leads nowhere, and a forwarder observes only the calls
that returned."""

from __future__ import annotations

import sys
import weakref

import pytest


@pytest.mark.skipif(sys.gettrace() is not None, reason="a capability refuses to run under a trace function")
def test_sealed_callables_lead_nowhere() -> None:
    from grader.child.boundary import capability, forwarder, seal

    class Secret:
        key = b"k"

        def act(self, x):
            return x + 1

    keep: list = []
    sealed = seal(Secret().act, keep)
    assert sealed(1) == 2
    for name in ("__self__", "__func__", "__closure__", "__globals__", "__class__", "_call", "__reduce_ex__"):
        with pytest.raises(AttributeError):
            getattr(sealed, name)
    with pytest.raises(AttributeError):
        object.__getattribute__(sealed, "_call")
    assert type(sealed) is weakref.CallableProxyType  # type() names the proxy, not what it hides
    calls = []
    # What a sealed call returns: (its result, the student objects it let go of).
    observe = capability(lambda foreign, args, kwargs, gathered: (calls.append(("observe", args)), []), keep)
    stand_in = forwarder(Secret().act, observe)
    assert stand_in(2) == 3 and hash(stand_in) and stand_in.__name__ == "act" and stand_in.__closure__ is None
    assert calls == [("observe", (2,))]  # after the real call, with its arguments

    def failing(x):
        raise ValueError(x)

    with pytest.raises(ValueError):
        forwarder(failing, observe)(5)
    assert calls == [("observe", (2,))]  # a call that raised is not observed
    assert set(stand_in.__globals__) == {"__builtins__", "_real", "_observe", "_use", "_gather"}
    assert type(observe.gi_frame.f_locals["sealed"]) is weakref.CallableProxyType  # all a frame shows

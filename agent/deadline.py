"""The run's wall-clock deadline, and a way to hold a blocking call to it.

A model server is not trusted to end its answer: it may never send headers, trickle a byte a second, or stream
without end, and no per-read timeout of an HTTP client bounds that. `bounded` gives up on a call when the deadline
comes, whatever the call is doing. Code inside the call reads `current()` to cap its own waits (request timeouts,
retry backoff, stream reading), so a call given up on also stops soon after instead of going on unseen.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class DeadlinePassed(Exception):
    """The deadline came before the call was done."""


@dataclass(frozen=True)
class Deadline:
    at: float
    """A `time.monotonic()` reading."""
    _given_up: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds to go: 0 once the deadline has passed, or once the waiting side gave up (an interrupt)."""
        if self._given_up.is_set():
            return 0.0
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return self.left() == 0.0

    def give_up(self) -> None:
        self._given_up.set()


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("loopwright_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the `bounded` call this code runs in, if any."""
    return _CURRENT.get()


def bounded(deadline: Deadline, call: Callable[[], T]) -> T:
    """`call()`, or DeadlinePassed as soon as `deadline` comes first.

    The call runs on a worker thread, so nothing it waits on can hold the caller past the deadline. An error the
    call raises once the deadline has passed is the deadline's doing and reads as DeadlinePassed too. When the caller
    stops waiting (the deadline, Ctrl-C), the call's own deadline is marked given up so that it stops at its next
    check. Inside another bounded call, the earlier of the two deadlines holds.
    """
    outer = current()
    own = Deadline(deadline.at if outer is None else min(deadline.at, outer.at))
    if own.passed:
        raise DeadlinePassed()
    outcome: list[tuple[bool, object]] = []
    done = threading.Event()

    def work() -> None:
        _CURRENT.set(own)
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome.append((False, exc))
        finally:
            done.set()

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name="loopwright-bounded", daemon=True).start()
    try:
        done.wait(own.left())
    finally:
        if not done.is_set():
            own.give_up()
    if not done.is_set():
        raise DeadlinePassed()
    finished, value = outcome[0]
    if finished:
        return value  # type: ignore[return-value]
    if own.passed:
        raise DeadlinePassed() from value
    raise value  # type: ignore[misc]

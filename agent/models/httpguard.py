"""Event hooks that hold the adapters' HTTP clients to the run's deadline (see `loopwright.deadline`).

Inside a `bounded` call each request's timeouts are capped by the time left, and an answer still coming when the
deadline passes (a byte-a-second trickle, an endless stream) is cut at its next chunk, so a call the loop has given
up on stops reading as well. Outside one (the `models` command, a test of an adapter) requests run as configured.

The SDKs are built on httpx or on its successor httpx2; the hooks work with whichever made the request.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import httpx

from loopwright.deadline import Deadline, DeadlinePassed, current

def _optional_library(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:  # older SDKs use httpx itself
        return None


httpx2 = _optional_library("httpx2")

T = TypeVar("T")

SLACK_S = 1.0
"""Capped timeouts fire this long after the deadline, so the loop's own cut comes first and names the reason."""

_LIBRARIES = tuple(lib for lib in (httpx, httpx2) if lib is not None)
TIMEOUT_ERRORS: tuple[type[Exception], ...] = tuple(lib.TimeoutException for lib in _LIBRARIES)
TRANSPORT_ERRORS: tuple[type[Exception], ...] = tuple(lib.TransportError for lib in _LIBRARIES)


def deadline_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """`event_hooks` for an httpx(2) client."""
    return {"request": [_cap_timeouts], "response": [_cut_at_deadline]}


def until_deadline(items: Iterable[T]) -> Iterator[T]:
    """`items` (a stream's events), ended by DeadlinePassed when the deadline passes, so that events already read
    are neither parsed nor shown once the loop has given up on the answer."""
    deadline = current()
    for item in items:
        if deadline is not None and deadline.passed:
            raise DeadlinePassed()
        yield item


def _library(obj: object) -> ModuleType:
    return sys.modules[type(obj).__module__.partition(".")[0]]


def _cap_timeouts(request: Any) -> None:
    deadline = current()
    if deadline is None:
        return
    if deadline.passed:
        raise _library(request).ConnectTimeout("the run's time is up", request=request)
    limit = deadline.left() + SLACK_S
    timeouts = request.extensions.get("timeout") or dict.fromkeys(("connect", "read", "write", "pool"))
    request.extensions["timeout"] = {key: limit if value is None else min(value, limit) for key, value in timeouts.items()}


def _cut_at_deadline(response: Any) -> None:
    deadline = current()
    if deadline is not None:
        response.stream = _cut_stream_type(_library(response))(response.stream, deadline, response.request)


@functools.cache
def _cut_stream_type(lib: ModuleType) -> type:
    class CutStream(lib.SyncByteStream):  # type: ignore[name-defined]
        """A response body that ends with a read timeout once the deadline has passed, however fast bytes come."""

        def __init__(self, inner: Any, deadline: Deadline, request: Any) -> None:
            self._inner = inner
            self._deadline = deadline
            self._request = request

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                if self._deadline.passed:
                    raise lib.ReadTimeout("the run's time ran out while the answer was still coming", request=self._request)
                yield chunk

        def close(self) -> None:
            self._inner.close()

    return CutStream

"""The host's reading of the command runner's stream, fed hostile bytes through a real socket pair.

Whatever comes from the runner is untrusted: frames may be split anywhere by the engine, and a bad
header, size, order or tag ends the stream as malformed instead of being believed.
"""

from __future__ import annotations

import random
import socket
import struct

import pytest

from loopwright.sandboxes import runner_program as program
from loopwright.sandboxes.base import OutputCap
from loopwright.sandboxes.runner import Exited, RunnerStream

KEY = bytes(range(32))


def frames(*parts: tuple[bytes, int, bytes], key: bytes = KEY, start: int = 0) -> bytes:
    out = b""
    for sequence, (kind, ident, payload) in enumerate(parts, start):
        head = program.HEADER.pack(kind, ident, len(payload))
        out += head + payload + program.tag(key, sequence, head, payload)
    return out


def ready() -> tuple[bytes, int, bytes]:
    return (b"R", 0, program.READY.pack(program.VERSION, 42))


def engine_pieces(data: bytes, stream: int, rng: random.Random) -> bytes:
    """`data` as the engine multiplexes it, cut into pieces of random sizes."""
    out, at = b"", 0
    while at < len(data):
        size = rng.choice([1, 2, 3, 7, 100, 5000, 70000])
        piece = data[at:at + size]
        out += bytes([stream, 0, 0, 0]) + struct.pack(">I", len(piece)) + piece
        at += size
    return out


@pytest.fixture
def stream_pair():
    ours, theirs = socket.socketpair()
    stream = RunnerStream(ours, KEY)
    yield stream, theirs
    stream.close()
    theirs.close()


def test_frames_cut_anywhere_by_the_engine_are_read_whole(stream_pair):
    stream, engine = stream_pair
    rng = random.Random(7)
    output = bytes(rng.getrandbits(8) for _ in range(200_000))
    chunks = [output[i:i + program.MAX_OUTPUT] for i in range(0, len(output), program.MAX_OUTPUT)]
    data = frames(ready(), (b"S", 1, program.STARTED.pack(77)), *[(b"O", 1, c) for c in chunks], (b"X", 1, program.EXITED.pack(3, 0)))
    wire = b""
    at = 0
    while at < len(data):
        size = rng.randint(1, 9000)
        wire += engine_pieces(data[at:at + size], 1, rng) + engine_pieces(b"noise on stderr", 2, rng)
        at += size
    cap = OutputCap(10**6)
    stream.expect(1, cap)
    for i in range(0, len(wire), 4096):
        engine.sendall(wire[i:i + 4096])
    stream.wait_ready(5)
    assert stream.next_event(1, 5) == Exited(3, 0)
    assert (stream.runner_pid, stream.pgid) == (42, 77)
    assert cap.total == len(output) and cap.text() == output.decode("utf-8", errors="replace")


def test_frames_of_another_command_are_dropped(stream_pair):
    stream, engine = stream_pair
    cap = OutputCap(1000)
    stream.expect(2, cap)
    data = frames(ready(), (b"O", 1, b"stale"), (b"X", 1, program.EXITED.pack(0, 0)), (b"O", 2, b"mine"), (b"X", 2, program.EXITED.pack(5, 0)))
    engine.sendall(engine_pieces(data, 1, random.Random(1)))
    stream.wait_ready(5)
    assert stream.next_event(2, 5) == Exited(5, 0)
    assert cap.text() == "mine"


def _forged_tag(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


MALFORMED = {
    "a bad tag": lambda: _forged_tag(frames(ready(), (b"X", 1, program.EXITED.pack(0, 0)))),
    "another key": lambda: frames(ready()) + frames((b"X", 1, program.EXITED.pack(0, 0)), key=b"k" * 32, start=1),
    "a replayed frame": lambda: frames(ready(), (b"O", 1, b"x")) + frames((b"O", 1, b"x"), start=1),
    "an output frame over the cap": lambda: frames(ready(), (b"O", 1, b"x" * (program.MAX_OUTPUT + 1))),
    "an exit frame of the wrong size": lambda: frames(ready(), (b"X", 1, program.EXITED.pack(0, 0) + b"!")),
    "an unknown kind": lambda: frames(ready(), (b"Z", 1, b"")),
    "a second ready": lambda: frames(ready(), ready()),
    "output before ready": lambda: frames((b"O", 1, b"early")),
    "a process group of 0": lambda: frames(ready(), (b"S", 1, program.STARTED.pack(0))),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_or_forged_frame_ends_the_stream(stream_pair, case):
    stream, engine = stream_pair
    stream.expect(1, OutputCap(1000))
    engine.sendall(engine_pieces(MALFORMED[case](), 1, random.Random(3)))
    events = [stream.next_event(1, 5) for _ in range(2)]
    assert "malformed" in events and Exited(0, 0) not in events
    assert not stream.alive


def test_a_bad_engine_header_ends_the_stream(stream_pair):
    stream, engine = stream_pair
    stream.expect(1, OutputCap(1000))
    engine.sendall(b"OCI runtime exec failed: exec failed: python3 not found\r\n")
    assert stream.next_event(1, 5) == "malformed"


def test_the_runner_going_away_ends_the_stream(stream_pair):
    stream, engine = stream_pair
    stream.expect(1, OutputCap(1000))
    engine.sendall(engine_pieces(frames(ready()), 1, random.Random(4)))
    stream.wait_ready(5)
    engine.close()
    assert stream.next_event(1, 5) == "ended"

"""The command runner: one process inside the sandbox container that runs the session's commands.

The host starts it once with `python3 -I -S` (no site, no environment, no workspace on sys.path),
sends it this file over the attached stdin (it is never a file in the container) and then talks to
it over the same stdin and stdout. Requests come in as a 4-byte length and a JSON object of plain
values. Replies go out as frames: kind, command id and length, the payload, then an HMAC tag over
the frame and its sequence number, keyed with a secret the host sends first. A command's output is
always a frame's payload, so nothing it prints can pass for a frame; bytes written into the runner's
output some other way (gVisor lets a process of the same user open /proc/PID/fd/1) fail the tag.
The runner makes itself non-dumpable, which under runc also closes its memory and file descriptors
to the commands; under gVisor its memory is closed to them already.

Each command is `sh -lc COMMAND`, or the same without the login shell when that is provably the
same start (see Login): Debian's /etc/profile runs `id`, one more process per command, which under
gVisor is most of a command's cost. It runs in a session (process group) of its own, stdin
/dev/null, stdout and stderr one pipe. At its timeout the group gets SIGTERM, `grace` seconds later
SIGKILL (exit 124, or 137 when the SIGKILL was needed, as coreutils `timeout` reports); a timed-out
or stopped command's group is killed whole once it exits. When the command exits but others keep
its output open, they get `linger` seconds before the group is killed and the pipe closed.

Stdlib only and Python 3.6 syntax: it runs on whatever python3 the sandbox image has. The host
imports this module for its constants and `tag`; nothing runs on import.
"""

import glob
import hmac
import json
import os
import re
import select
import signal
import struct
import subprocess
import time

VERSION = 1
HEADER = struct.Struct(">cII")
"""kind, command id, payload length."""
TAG_SIZE = 16
REQUEST_HEADER = struct.Struct(">I")
MAX_REQUEST = 1 << 22
MAX_OUTPUT = 1 << 16
"""Largest payload of one output frame."""
READY = struct.Struct(">II")
"""Payload of the first frame: protocol version, the runner's pid."""
STARTED = struct.Struct(">I")
"""The command's process group."""
EXITED = struct.Struct(">iB")
"""Exit code, flags."""
TIMED_OUT, KILL_NEEDED, LINGERED, STOPPED = 1, 2, 4, 8
PAYLOAD_SIZES = {b"R": READY.size, b"S": STARTED.size, b"X": EXITED.size}
READS_PER_TURN = 16
"""Output chunks read in one turn of the loop before requests and timers are looked at again."""
BOOTSTRAP = (
    "import os,sys\n"
    "n=int(sys.argv[1]);b=b''\n"
    "while len(b)<n:\n"
    " c=os.read(0,n-len(b))\n"
    " if not c:raise SystemExit(3)\n"
    " b+=c\n"
    "exec(compile(b,'loopwright-runner','exec'),{'__name__':'__main__'})\n"
)
"""What `python3 -c` runs: reads this file's text (its length in argv[1]) from stdin and runs it."""


def tag(key, sequence, head, payload):
    """The HMAC of one frame, bound to its place in the stream."""
    mac = hmac.new(key, struct.pack(">Q", sequence), "sha256")
    mac.update(head)
    mac.update(payload)
    return mac.digest()[:TAG_SIZE]


class Channel:
    """Frames out on stdout."""

    def __init__(self, key):
        self._key = key
        self._sequence = 0

    def send(self, kind, ident, payload=b""):
        head = HEADER.pack(kind, ident, len(payload))
        frame = head + payload + tag(self._key, self._sequence, head, payload)
        self._sequence += 1
        view = memoryview(frame)
        while view:
            view = view[os.write(1, view):]


class Requests:
    """Requests in on stdin."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data
        requests = []
        while len(self._buffer) >= REQUEST_HEADER.size:
            (size,) = REQUEST_HEADER.unpack_from(self._buffer)
            if size > MAX_REQUEST:
                raise SystemExit("request too large")
            if len(self._buffer) < REQUEST_HEADER.size + size:
                break
            body = bytes(self._buffer[REQUEST_HEADER.size:REQUEST_HEADER.size + size])
            del self._buffer[:REQUEST_HEADER.size + size]
            request = json.loads(body.decode("utf-8"))
            if not isinstance(request, dict):
                raise SystemExit("malformed request")
            requests.append(request)
        return requests

    def first(self):
        """Blocks for the first request."""
        while True:
            data = os.read(0, 65536)
            if not data:
                raise SystemExit(0)
            requests = self.feed(data)
            if requests:
                if len(requests) > 1:
                    raise SystemExit("requests before the runner was ready")
                return requests[0]


class Command:
    """One command from its start to the frame that says how it ended."""

    def __init__(self, request, login, channel):
        self.ident = int(request["id"])
        self._channel = channel
        extra = {str(key): str(value) for key, value in dict(request.get("env") or {}).items()}
        argv, env = login.start(str(request["command"]), extra, str(request["cwd"]))
        self._timeout = float(request["timeout"])
        self._grace = float(request["grace"])
        self._linger = float(request["linger"])
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=null, stdout=write_end, stderr=write_end,
                cwd=str(request["cwd"]), env=env, start_new_session=True, close_fds=True,
            )
        except (OSError, ValueError) as error:
            # ValueError: a NUL byte in the command or its environment.
            os.close(null)
            os.close(read_end)
            os.close(write_end)
            self._process = None
            channel.send(b"O", self.ident, "could not start the command: {}\n".format(error).encode())
            channel.send(b"X", self.ident, EXITED.pack(126, 0))
            self.done = True
            return
        os.close(null)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self.output = read_end
        self.done = False
        self._flags = 0
        self._code = None
        self._group_killed = False
        now = time.monotonic()
        self._deadline = now + self._timeout
        self._kill_at = None
        self._close_at = None
        channel.send(b"S", self.ident, STARTED.pack(self._process.pid))

    def wait_s(self, now):
        """How long the loop may sleep before this command needs looking at."""
        timers = (self._deadline, self._kill_at) if self._code is None else (self._close_at,)
        # SIGCHLD wakes the loop when the command exits; the 1 s cap is a backstop.
        return max(0.0, min([at - now for at in timers if at is not None] + [1.0]))

    def stop(self):
        """The host asked: kill the group now, keep nothing waiting."""
        self._flags |= STOPPED
        self._kill(signal.SIGKILL)
        self._close_at = time.monotonic()

    def advance(self, now):
        """Reads output, reaps, fires timers; sends the exit frame and says True once finished."""
        self._read()
        if self._code is None and self._process.poll() is not None:
            code = self._process.returncode
            self._code = 128 - code if code < 0 else code
        if self._code is None:
            if self._deadline is not None and now >= self._deadline:
                self._flags |= TIMED_OUT
                self._kill(signal.SIGTERM)
                self._deadline = None
                self._kill_at = now + self._grace
            elif self._kill_at is not None and now >= self._kill_at:
                self._flags |= KILL_NEEDED
                self._kill(signal.SIGKILL)
                self._kill_at = None
            return False
        if self._flags & (TIMED_OUT | STOPPED) and not self._group_killed:
            # A timed-out or stopped command leaves nothing of its group behind.
            self._kill(signal.SIGKILL)
        if self.output is not None:
            if self._close_at is None:
                self._close_at = now + self._linger
            elif now >= self._close_at:
                self._read()
                if self.output is not None:
                    if not self._flags & (TIMED_OUT | STOPPED):
                        self._flags |= LINGERED
                    self._kill(signal.SIGKILL)
                    self._close()
        if self.output is not None:
            return False
        code = self._code
        if self._flags & TIMED_OUT:
            code = 137 if self._flags & KILL_NEEDED else 124
        self._channel.send(b"X", self.ident, EXITED.pack(code, self._flags))
        self.done = True
        return True

    def abandon(self):
        """The host is gone: the command must not outlive it."""
        if self._process is not None:
            self._kill(signal.SIGKILL)

    def _read(self):
        for _ in range(READS_PER_TURN):
            if self.output is None:
                return
            try:
                chunk = os.read(self.output, MAX_OUTPUT)
            except BlockingIOError:
                return
            if not chunk:
                self._close()
                return
            self._channel.send(b"O", self.ident, chunk)

    def _close(self):
        os.close(self.output)
        self.output = None

    def _kill(self, sig):
        if sig == signal.SIGKILL:
            self._group_killed = True
        try:
            os.killpg(self._process.pid, sig)
        except OSError:
            pass


class Login:
    """How a command starts: `sh -lc`, or `sh -c` with what the login shell would have added.

    `sh -l` reads /etc/profile (and what it sources) and $HOME/.profile. The first two sit on the
    read-only root, so their effect is taken once: the environment a login shell ends up with, kept
    only when a plain shell given those variables has the very same state (umask, options, aliases,
    every shell variable). A command then skips the login shell unless that could differ: a
    $HOME/.profile exists, or its extra variables are ones the profile names or sets (it may read
    them), or the profile mentions HOME (it may read files a command can write).
    """

    CHECK = 'umask; echo "$-"; alias; set'
    MARK = "\n--loopwright-login-environment--\n"

    def __init__(self, environ):
        self._environ = environ
        self._delta = None
        self._usable = True
        text = ""
        for path in ["/etc/profile"] + sorted(glob.glob("/etc/profile.d/*.sh")):
            try:
                with open(path, "rb") as profile:
                    text += profile.read().decode("utf-8", "replace") + "\n"
            except OSError:
                pass
        self._words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        if "HOME" in self._words or "~" in text:
            self._usable = False

    def start(self, command, extra, cwd):
        """argv and environment of `command` with `extra` variables."""
        env = dict(self._environ)
        env.update(extra)
        if not self._plain_is_same(extra, env, cwd):
            return ["sh", "-lc", command], env
        for key, value in self._delta.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return ["sh", "-c", command], env

    def _plain_is_same(self, extra, env, cwd):
        if not self._usable or _home_profile(env.get("HOME")):
            return False
        if self._delta is None:
            self._delta = self._measure(cwd)
            if self._delta is None:
                self._usable = False
                return False
        if _home_profile(self._delta.get("HOME", env.get("HOME"))):
            return False
        return not any(key in self._words or key in self._delta for key in extra)

    def _measure(self, cwd):
        """What the login shell adds to the environment, when that is all it changes; else None."""
        login = _shell(["sh", "-lc", self.CHECK + "; printf '" + self.MARK.replace("\n", "\\n") + "'; exec env -0"], self._environ, cwd)
        if login is None or self.MARK.encode() not in login:
            return None
        state, _, listing = login.rpartition(self.MARK.encode())
        after = {}
        for pair in listing.split(b"\0"):
            key, sep, value = pair.partition(b"=")
            if sep and key:
                after[os.fsdecode(key)] = os.fsdecode(value)
        delta = {key: value for key, value in after.items() if self._environ.get(key) != value}
        delta.update({key: None for key in self._environ if key not in after})
        plain_env = {key: value for key, value in dict(self._environ, **delta).items() if value is not None}
        if _shell(["sh", "-c", self.CHECK], plain_env, cwd) != state:
            return None
        return delta


class Runner:
    def __init__(self, channel, environ, requests):
        self._channel = channel
        self._login = Login(environ)
        self._requests = requests
        self._command = None

    def serve(self):
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            while True:
                command = self._command
                watched = [0, wake_read]
                if command is not None and command.output is not None:
                    watched.append(command.output)
                timeout = command.wait_s(time.monotonic()) if command is not None else None
                readable = select.select(watched, [], [], timeout)[0]
                if wake_read in readable:
                    while _drain(wake_read):
                        pass
                if 0 in readable:
                    data = os.read(0, 65536)
                    if not data:
                        return
                    for request in self._requests.feed(data):
                        self._handle(request)
                if self._command is not None and self._command.advance(time.monotonic()):
                    self._command = None
        finally:
            if self._command is not None:
                self._command.abandon()

    def _handle(self, request):
        op = request.get("op")
        if op == "run":
            if self._command is not None:
                raise SystemExit("a command was asked for while another ran")
            command = Command(request, self._login, self._channel)
            self._command = None if command.done else command
        elif op == "kill":
            if self._command is not None and self._command.ident == request.get("id"):
                self._command.stop()
        else:
            raise SystemExit("unknown request")


def initial_environment():
    """The environment the engine started us with, before Python adjusted its own copy (locale coercion)."""
    try:
        with open("/proc/self/environ", "rb") as environ:
            pairs = environ.read().split(b"\0")
    except OSError:
        return dict(os.environ)
    environment = {}
    for pair in pairs:
        key, sep, value = pair.partition(b"=")
        if sep and key:
            environment[os.fsdecode(key)] = os.fsdecode(value)
    return environment


def not_dumpable():
    """Keep processes of the same user out of our memory and descriptors (under runc; best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (ImportError, OSError, AttributeError):
        pass


def _home_profile(home):
    return bool(home) and os.path.lexists(os.path.join(home, ".profile"))


def _shell(argv, env, cwd):
    """stdout of a short shell run, or None when it fails."""
    try:
        done = subprocess.run(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            timeout=30, start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _drain(fd):
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return False


def main():
    environ = initial_environment()
    not_dumpable()
    requests = Requests()
    hello = requests.first()
    if hello.get("op") != "hello":
        raise SystemExit("expected hello")
    channel = Channel(bytes.fromhex(str(hello["key"])))
    channel.send(b"R", 0, READY.pack(VERSION, os.getpid()))
    Runner(channel, environ, requests).serve()


if __name__ == "__main__":
    main()

"""Start a local OpenAI-compatible server (llama.cpp or vLLM) and wait until it answers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from loopwright.model import ModelError
from loopwright.models.localmodel import LocalModelInfo, cache_dir, default_local_model, resolve_model

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def base_url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}/v1"


def answering_models(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """The models a server lists, or None while nothing answers there."""
    try:
        answer = httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
        return [str(item["id"]) for item in answer.json()["data"]] if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def llama_cpp_command(
    model: Path,
    *,
    alias: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    n_ctx: int = 8192,
    n_threads: int | None = None,
    n_gpu_layers: int = 0,
    chat_format: str = "chatml-function-calling",
    seed: int = 0,
    extra: Sequence[str] = (),
) -> list[str]:
    threads = n_threads or max(os.cpu_count() or 1, 1)
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", alias,
        "--chat_format", chat_format,
        "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_gpu_layers", str(n_gpu_layers),
        # mmap would share pages with every other process reading the file; loading it keeps timings steady.
        "--use_mmap", "False", "--seed", str(seed),
        "--host", host, "--port", str(port),
        *extra,
    ]  # fmt: skip


def vllm_command(
    model: str,
    *,
    served_name: str | None = None,
    host: str = "0.0.0.0",
    port: int = 8000,
    tensor_parallel_size: int = 1,
    tool_call_parser: str | None = "hermes",
    max_model_len: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    executable = shutil.which("vllm")
    command = (
        [executable, "serve", model]
        if executable
        else [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    )
    command += ["--host", host, "--port", str(port), "--tensor-parallel-size", str(tensor_parallel_size)]
    command += ["--served-model-name", served_name or model, "--enable-prefix-caching"]
    if tool_call_parser:
        command += ["--enable-auto-tool-choice", "--tool-call-parser", tool_call_parser]
    if max_model_len:
        command += ["--max-model-len", str(max_model_len)]
    return command + list(extra)


@dataclass
class ServerProcess:
    """A server we started. Stop it with `stop()` or use it as a context manager."""

    process: subprocess.Popen[bytes]
    base_url: str
    model: str
    log_path: Path
    command: list[str] = field(default_factory=list)

    @property
    def spec(self) -> str:
        return f"local:{self.model}@{self.base_url}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    command: list[str], *, base_url: str, model: str, log_path: Path, timeout: float = 120.0, detach: bool = False
) -> ServerProcess:
    """Run `command` and wait until `base_url` lists `model`; the log holds the server's output."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detach
            )
        except OSError as error:
            raise ModelError(f"cannot start {command[0]}: {error.strerror or error}") from None
    server = ServerProcess(process, base_url, model, log_path, command)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelError(
                f"the server exited with code {process.returncode}: {_last_line(log_path)} (log: {log_path})"
            )
        offered = answering_models(base_url, timeout=1.0)
        if offered is not None:
            if model not in offered:
                server.stop()
                raise ModelError(f"another server answers at {base_url} (it offers: {', '.join(offered)})")
            return server
        time.sleep(0.2)
    server.stop()
    raise ModelError(f"the server did not answer at {base_url} within {timeout:.0f}s (log: {log_path})")


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    error_lines = [line for line in lines if "error" in line.lower()]
    return (error_lines or lines or ["no output"])[-1].strip()[:300]


def start_llama_cpp(
    model: str | Path | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    n_ctx: int = 8192,
    n_threads: int | None = None,
    n_gpu_layers: int = 0,
    timeout: float = 120.0,
    log_path: Path | None = None,
    detach: bool = False,
) -> ServerProcess:
    """Start llama.cpp's server on a GGUF path or an installed model (default: the best one installed)."""
    info: LocalModelInfo = resolve_model(str(model)) if model is not None else default_local_model()
    try:
        import llama_cpp.server  # noqa: F401  (only to fail early with a clear line)
    except ImportError:
        raise ModelError('llama.cpp server is not installed: pip install "llama-cpp-python[server]"') from None
    command = llama_cpp_command(
        info.path, alias=info.alias, host=host, port=port, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers
    )
    log = log_path or cache_dir().parent / "logs" / f"llama-cpp-{port}.log"
    return start_server(
        command, base_url=base_url_for(host, port), model=info.alias, log_path=log, timeout=timeout, detach=detach
    )


def ensure_local_server(
    model: str | Path | None = None, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = 120.0
) -> str:
    """Reuse the server answering on `port`, or start llama.cpp there and leave it running for later sessions
    (recorded, so that `loopwright serve --stop` can stop it).

    Returns the base URL; `answering_models(base_url)` names the model it serves.
    """
    base_url = base_url_for(host, port)
    offered = answering_models(base_url)
    if offered:
        wanted = None if model is None else resolve_model(str(model)).alias
        if wanted is None or wanted in offered:
            return base_url
        raise ModelError(f"port {port} is taken by a server with {', '.join(offered)}; choose another port")
    server = start_llama_cpp(model, host=host, port=port, timeout=timeout, detach=True)
    started = process_start_time(server.process.pid)
    if started is not None:
        record = ServerRecord(pid=server.process.pid, started=started, port=port)
        _record_path(port).write_text(json.dumps(asdict(record)), encoding="utf-8")
    return server.base_url


@dataclass(frozen=True)
class ServerRecord:
    """A llama.cpp server `ensure_local_server` left running: enough to stop that process and never another."""

    pid: int
    started: str
    """The process's start time as the system reports it: a pid reused by another process has another."""
    port: int


def process_start_time(pid: int) -> str | None:
    """When process `pid` started, as an opaque string; None when there is no such live process (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _ps_start_time(pid)
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces; the state is field 3, the start time field 22.
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _ps_start_time(pid: int) -> str | None:
    # No /proc (macOS): ps gives the start time to the second.
    try:
        shown = subprocess.run(["ps", "-o", "stat=,lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    state, _, started = shown.stdout.strip().partition(" ")
    return None if shown.returncode != 0 or not started or state.startswith("Z") else started.strip()


def _servers_dir() -> Path:
    from loopwright import statedir

    folder = statedir.base() / "servers"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _record_path(port: int) -> Path:
    return _servers_dir() / f"llama-cpp-{port}.json"


def recorded_servers(port: int | None = None) -> list[ServerRecord]:
    """The servers loopwright left running (on `port`, or on any port) that are still the processes it started.

    Records of servers that have gone, or whose pid now belongs to another process, are removed.
    """
    paths = [_record_path(port)] if port is not None else sorted(_servers_dir().glob("llama-cpp-*.json"))
    running = []
    for path in paths:
        try:
            record = ServerRecord(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            continue
        except (OSError, ValueError, TypeError):
            record = None
        if record is not None and process_start_time(record.pid) == record.started:
            running.append(record)
        else:
            path.unlink(missing_ok=True)
    return running


def stop_local_servers(port: int | None = None, timeout: float = 10.0) -> list[ServerRecord]:
    """Stop the servers `ensure_local_server` left running (on `port`, or all); returns those it stopped."""
    stopped = []
    for record in recorded_servers(port):
        _terminate(record, timeout)
        _record_path(record.port).unlink(missing_ok=True)
        stopped.append(record)
    return stopped


def _terminate(record: ServerRecord, timeout: float) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        # Checked again before each signal: the pid is only ever signalled while it is still our server.
        if process_start_time(record.pid) != record.started:
            return
        try:
            os.kill(record.pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process_start_time(record.pid) != record.started:
                return
            time.sleep(0.1)

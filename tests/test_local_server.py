"""The llama.cpp server loopwright starts for the default model, and `loopwright serve --stop`.

A small HTTP server stands in for llama.cpp (`python -m llama_cpp.server` from a folder put first on the
path): the same command line, a real detached process, ready in well under a second.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from loopwright.models.serve import answering_models, ensure_local_server, process_start_time, recorded_servers

STAND_IN = textwrap.dedent(
    """
    import argparse, http.server, json

    parser = argparse.ArgumentParser()
    parser.add_argument("--model_alias")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    options, _ = parser.parse_known_args()
    body = json.dumps({"object": "list", "data": [{"id": options.model_alias, "object": "model"}]}).encode()

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer((options.host, options.port), Models).serve_forever()
    """
)


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A GGUF path whose "server" is the stand-in; returns the path."""
    package = tmp_path / "path" / "llama_cpp" / "server"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path / "path"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "path"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "stand-in.gguf"
    model.write_bytes(b"GGUF")
    return model


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", "serve", *args], capture_output=True, text=True, timeout=60)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process_start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False


def test_serve_stop_stops_the_server_loopwright_left_running(stand_in):
    port = _free_port()
    base_url = ensure_local_server(stand_in, port=port, timeout=30)
    assert answering_models(base_url) == ["stand-in"]
    [record] = recorded_servers()
    assert ensure_local_server(stand_in, port=port) == base_url and recorded_servers() == [record]  # reused

    stopped = _serve("--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped the llama.cpp server on port {port} (pid {record.pid})"
    assert _gone(record.pid) and answering_models(base_url) is None
    again = _serve("--stop")
    assert again.returncode == 0 and again.stdout.strip() == "no server started by loopwright is running"


def test_serve_stop_names_the_port_it_found_nothing_on(stand_in):
    port = _free_port()
    ensure_local_server(stand_in, port=port, timeout=30)
    [record] = recorded_servers()
    try:
        other = _serve("--stop", "--port", str(_free_port()))
        assert other.returncode == 0 and "no server started by loopwright is running on port" in other.stdout
        assert process_start_time(record.pid) == record.started
    finally:
        assert _serve("--stop", "--port", str(port)).returncode == 0
    assert _gone(record.pid)


def test_a_reused_pid_is_never_signalled(stand_in):
    # The recorded server exited and its pid now belongs to an unrelated process: --stop must leave it alone.
    port = _free_port()
    ensure_local_server(stand_in, port=port, timeout=30)
    [record] = recorded_servers()
    os.kill(record.pid, signal.SIGKILL)
    assert _gone(record.pid)
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        [path] = (Path(os.environ["LOOPWRIGHT_STATE_DIR"]) / "servers").glob("*.json")
        path.write_text(path.read_text().replace(str(record.pid), str(unrelated.pid)))
        stopped = _serve("--stop")
        assert stopped.stdout.strip() == "no server started by loopwright is running"
        assert unrelated.poll() is None
        assert recorded_servers() == []  # the stale record is gone
    finally:
        unrelated.kill()
        unrelated.wait()


"""The Docker sandbox against a real engine and real containers (its setup phase: test_env_docker.py)."""

from __future__ import annotations

import os
import subprocess
import threading
import sys
import time

import pytest

from loopwright.sandboxes.base import Sandbox, SandboxError
from loopwright.sandboxes.docker import (
    OWNER_LABEL,
    SESSION_LABEL,
    DockerSandbox,
    _owner_token,
    cleanup_stale,
)

docker_test = pytest.mark.docker


def _session_containers(client, session_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session_id}"})


def _still_running(box: DockerSandbox, needle: str) -> bool:
    """Whether a process whose command line holds `needle` still runs in the sandbox.

    A killed process closes its output a little before it leaves the process table, so
    this looks again for a few seconds before answering yes.
    """
    deadline = time.monotonic() + 5.0
    while _running(box, needle) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _running(box, needle)


def _running(box: DockerSandbox, needle: str) -> bool:
    processes = box.exec("ps -eo stat=,args=", timeout_s=30).output.splitlines()
    return any(needle in line and not line.strip().startswith("Z") for line in processes)


def _quick(root, image, **options) -> DockerSandbox:
    return DockerSandbox(root, image=image, install_dependencies=False, **options)


@docker_test
def test_exec_returns_output_and_exit_code(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image) as box:
        assert isinstance(box, Sandbox)
        result = box.exec("pwd; echo out; echo err >&2; exit 3", timeout_s=30)
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == "/workspace" == box.workdir
    assert "out" in result.output and "err" in result.output
    assert not result.timed_out and not result.truncated


@docker_test
def test_files_written_inside_appear_on_the_host_owned_by_the_user(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image) as box:
        result = box.exec("mkdir -p sub && printf data > sub/file.txt", timeout_s=30)
    assert result.exit_code == 0, result.output
    written = tmp_path / "sub" / "file.txt"
    assert written.read_text() == "data"
    assert (written.stat().st_uid, written.stat().st_gid) == (os.getuid(), os.getgid())


@docker_test
def test_files_keep_the_given_uid_and_gid(tmp_path, sandbox_image):
    tmp_path.chmod(0o777)
    with _quick(tmp_path, sandbox_image, user="4321:4322") as box:
        result = box.exec("id -u; id -g; echo x > made.txt", timeout_s=30)
    assert result.output.split()[:2] == ["4321", "4322"]
    made = tmp_path / "made.txt"
    assert (made.stat().st_uid, made.stat().st_gid) == (4321, 4322)


@docker_test
def test_no_network_by_default(tmp_path, sandbox_image):
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=5)\n"
        "    print('connected')\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
    )
    (tmp_path / "probe.py").write_text(probe)
    with _quick(tmp_path, sandbox_image) as box:
        interfaces = box.exec("ls /sys/class/net", timeout_s=30).output.split()
        result = box.exec("python3 probe.py", timeout_s=30)
    assert interfaces == ["lo"]
    assert result.output.startswith("refused"), result.output


@docker_test
def test_container_is_locked_down(tmp_path, sandbox_image, docker_client):
    with _quick(tmp_path, sandbox_image, memory="512m", pids=100, cpus=1.0) as box:
        (container,) = _session_containers(docker_client, box.session_id)
        host = container.attrs["HostConfig"]
        capabilities = box.exec("grep CapEff /proc/self/status", timeout_s=30).output.split()
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["NetworkMode"] == "none"
    assert host["Init"] is True
    assert host["PidsLimit"] == 100
    assert host["Memory"] == 512 * 1024**2
    assert host["NanoCpus"] == 10**9
    assert capabilities == ["CapEff:", "0000000000000000"]


@docker_test
def test_timeout_kills_the_command_and_the_container_survives(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image) as box:
        result = box.exec("sleep 1000", timeout_s=2)
        assert result.timed_out
        assert result.exit_code in (124, 137)
        after = box.exec("echo alive", timeout_s=30)
        assert (after.exit_code, after.output.strip(), after.timed_out) == (0, "alive", False)


@docker_test
def test_forked_children_are_killed_with_the_command(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image) as box:
        result = box.exec(
            "sleep 1001 & (sleep 1002; echo late) & sh -c 'trap \"\" TERM; sleep 1003' & wait",
            timeout_s=2,
        )
        assert result.timed_out
        assert not _still_running(box, "sleep 100")


@docker_test
def test_background_process_holding_output_is_ended_not_waited_for(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image) as box:
        result = box.exec("sleep 1004 & echo started", timeout_s=120)
        detached = box.exec("nohup sleep 1005 > /dev/null 2>&1 & echo ok", timeout_s=30)
        assert not _still_running(box, "sleep 1004")
        assert _running(box, "sleep 1005")
    assert (result.exit_code, result.timed_out) == (0, False)
    assert "started" in result.output and "background processes" in result.output
    assert detached.exit_code == 0 and "background processes" not in detached.output


@docker_test
def test_output_over_the_cap_is_cut_with_a_note(tmp_path, sandbox_image):
    with _quick(tmp_path, sandbox_image, output_limit=2000) as box:
        result = box.exec("head -c 200000 /dev/zero | tr '\\0' x; echo; echo END", timeout_s=30)
    assert result.truncated
    assert "bytes of output cut" in result.output
    assert result.output.rstrip().endswith("END")
    assert len(result.output) < 2200


@docker_test
def test_environment_is_passed_per_exec_and_host_environment_never(tmp_path, sandbox_image, monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_TEST_SECRET_KEY", "sk-should-not-leak")
    with _quick(tmp_path, sandbox_image) as box:
        first = box.exec("env", timeout_s=30, env={"EXTRA": "yes"})
        second = box.exec("env", timeout_s=30)
    assert "EXTRA=yes" in first.output.splitlines()
    assert "EXTRA=yes" not in second.output.splitlines()
    assert "LOOPWRIGHT_TEST_SECRET_KEY" not in first.output + second.output


@docker_test
def test_close_removes_the_container_and_is_idempotent(tmp_path, sandbox_image, docker_client):
    box = _quick(tmp_path, sandbox_image)
    assert len(_session_containers(docker_client, box.session_id)) == 1
    box.close()
    box.close()
    assert _session_containers(docker_client, box.session_id) == []
    with pytest.raises(SandboxError, match="closed"):
        box.exec("true", timeout_s=5)


@docker_test
def test_container_is_removed_when_the_body_raises(tmp_path, sandbox_image, docker_client):
    with pytest.raises(RuntimeError, match="boom"):
        with _quick(tmp_path, sandbox_image) as box:
            session = box.session_id
            raise RuntimeError("boom")
    assert _session_containers(docker_client, session) == []


@docker_test
def test_container_is_removed_when_the_process_exits_without_close(tmp_path, sandbox_image, docker_client):
    script = (
        "import sys\n"
        "from loopwright.sandboxes.docker import DockerSandbox\n"
        "box = DockerSandbox(sys.argv[1], image=sys.argv[2], install_dependencies=False)\n"
        "print(box.session_id, flush=True)\n"
        "raise SystemExit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), sandbox_image],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert _session_containers(docker_client, done.stdout.strip()) == []


@docker_test
def test_ctrl_c_during_a_command_kills_it_and_removes_the_container(tmp_path, sandbox_image, docker_client):
    script = (
        "import os, signal, sys, threading, time\n"
        "from loopwright.sandboxes.docker import DockerSandbox\n"
        "with DockerSandbox(sys.argv[1], image=sys.argv[2], install_dependencies=False) as box:\n"
        "    print(box.session_id, flush=True)\n"
        "    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "    try:\n"
        "        box.exec('sleep 1006', timeout_s=300)\n"
        "    except KeyboardInterrupt:\n"
        "        for _ in range(50):\n"
        "            processes = box.exec('ps -eo stat=,args=', timeout_s=30).output\n"
        "            if 'sleep 1006' not in processes:\n"
        "                break\n"
        "            time.sleep(0.1)\n"
        "        print(processes, flush=True)\n"
        "        raise\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), sandbox_image],
        capture_output=True, text=True, timeout=120,
    )
    session, _, processes = done.stdout.partition("\n")
    assert "KeyboardInterrupt" in done.stderr
    assert "ps -eo stat=,args=" in processes and "sleep 1006" not in processes
    assert _session_containers(docker_client, session.strip()) == []


@docker_test
def test_cleanup_stale_removes_containers_of_dead_sessions_only(tmp_path, sandbox_image, docker_client):
    dead = subprocess.Popen(["sleep", "0"])
    dead_token = _owner_token(dead.pid)
    dead.wait()
    leftover = docker_client.containers.run(
        sandbox_image, ["sleep", "infinity"], detach=True, init=True, network_mode="none",
        labels={SESSION_LABEL: "deadbeef0000", OWNER_LABEL: dead_token},
    )
    try:
        with _quick(tmp_path, sandbox_image) as box:
            removed = cleanup_stale(docker_client)
            assert len(_session_containers(docker_client, box.session_id)) == 1
        assert leftover.name in removed
        assert _session_containers(docker_client, "deadbeef0000") == []
    finally:
        for container in _session_containers(docker_client, "deadbeef0000"):
            container.remove(force=True)


@docker_test
def test_sessions_cleaning_up_at_the_same_time_do_not_fail_each_other(tmp_path, sandbox_image, docker_client):
    """Parallel sessions (bench workers) each clean up at start; removing the same leftovers must not be an error."""
    dead = subprocess.Popen(["sleep", "0"])
    dead_token = _owner_token(dead.pid)
    dead.wait()
    for _ in range(6):
        docker_client.containers.run(
            sandbox_image, ["sleep", "infinity"], detach=True, init=True, network_mode="none",
            labels={SESSION_LABEL: "deadbeef0001", OWNER_LABEL: dead_token},
        )
    errors: list[BaseException] = []

    def clean() -> None:
        try:
            cleanup_stale()
        except BaseException as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    workers = [threading.Thread(target=clean) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert errors == []
        assert _session_containers(docker_client, "deadbeef0001") == []
    finally:
        for container in _session_containers(docker_client, "deadbeef0001"):
            container.remove(force=True)


@docker_test
def test_exec_after_the_container_vanished_is_a_clear_error(tmp_path, sandbox_image, docker_client):
    with _quick(tmp_path, sandbox_image) as box:
        for container in _session_containers(docker_client, box.session_id):
            container.remove(force=True)
        with pytest.raises(SandboxError, match=r"^sandbox command could not run: "):
            box.exec("true", timeout_s=10)


@docker_test
def test_missing_image_is_a_clear_error(tmp_path, docker_client):
    expected = r"^sandbox image loopwright-absent:never not found; run `loopwright sandbox build`$"
    with pytest.raises(SandboxError, match=expected):
        DockerSandbox(tmp_path, image="loopwright-absent:never")


def test_unreachable_engine_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(SandboxError, match=r"^Docker engine not reachable: .*; start dockerd or use --sandbox local$"):
        DockerSandbox(tmp_path)


@docker_test
def test_git_metadata_is_read_only_inside_the_sandbox(tmp_path, sandbox_image):
    from tests.repos import buggy_calc_repo, git

    repo = buggy_calc_repo(tmp_path / "repo")
    with _quick(repo, sandbox_image) as box:
        planted = box.exec("git config core.fsmonitor 'touch /workspace/PWNED'; echo x > .git/hooks/pre-commit", timeout_s=30)
        edited = box.exec("echo changed >> calc.py && git -c safe.directory='*' status --porcelain", timeout_s=30)
    assert planted.exit_code != 0 and "Read-only file system" in planted.output
    assert edited.exit_code == 0 and "calc.py" in edited.output
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    git(repo, "status")
    assert not (repo / "PWNED").exists()

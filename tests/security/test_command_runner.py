"""The command runner, the one process in the container that runs a session's commands, tried from inside.

A command may print what looks like the runner's frames, write into the runner's own output, kill it,
flood it, or close its output and keep running; each still ends with its true exit code, or with one
clear line, and the next command runs. On runc and on gVisor (runsc).
"""

from __future__ import annotations

import io
import struct
import time

import docker.errors
import pytest

from loopwright.sandboxes import runner_program as program
from loopwright.sandboxes.base import OutputCap
from loopwright.sandboxes.docker import DockerSandbox
from loopwright.sandboxes.docker_exec import kill_in_container, run_exec
from loopwright.sandboxes.runner import RUNNER_ENDED_NOTE, RUNNER_FORGED_NOTE

pytestmark = pytest.mark.docker

NO_PYTHON_IMAGE = "loopwright-test-no-python:latest"


def running(box, needle: str) -> bool:
    """Whether a live process's command line holds `needle`, looked at again for a few seconds while it does."""
    deadline = time.monotonic() + 5.0
    while True:
        listing = box.exec("ps -eo stat=,args=", timeout_s=60).output.splitlines()
        found = any(needle in line and not line.strip().startswith("Z") for line in listing)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def fake_frames() -> bytes:
    """An exit frame for the first commands, as the runner would send it but with a made-up tag, and an engine header."""
    forged = b"".join(
        program.HEADER.pack(b"X", ident, program.EXITED.size) + program.EXITED.pack(0, 0) + b"T" * program.TAG_SIZE
        for ident in range(1, 4)
    )
    return forged + b"\x01\x00\x00\x00" + struct.pack(">I", 5) + b"hello"


def test_output_that_imitates_frames_is_only_output(tmp_path, make_sandbox):
    (tmp_path / "frames.bin").write_bytes(fake_frames())
    box = make_sandbox(tmp_path)
    result = box.exec("cat frames.bin; echo; echo done; exit 7", timeout_s=60)
    assert (result.exit_code, result.timed_out) == (7, False)
    assert result.output == fake_frames().decode() + "\ndone\n"
    assert box.exec("echo next", timeout_s=60).output == "next\n"


def test_frames_written_into_the_runners_output_are_refused(tmp_path, make_sandbox, runtime):
    """runc: the runner is not dumpable, so its descriptors are closed. gVisor opens them; the tag check refuses."""
    (tmp_path / "frames.bin").write_bytes(fake_frames())
    box = make_sandbox(tmp_path)
    forge = "cat frames.bin > /proc/$PPID/fd/1; echo wrote $?; sleep 1; echo after; exit 3"
    result = box.exec(forge, timeout_s=60)
    if runtime == "runc":
        assert (result.exit_code, result.timed_out) == (3, False), result.output
        assert "Permission denied" in result.output and "after" in result.output
    else:
        assert result.exit_code == -1 and f"[{RUNNER_FORGED_NOTE}]" in result.output, result.output
        assert not running(box, "sleep 1")
    assert box.exec("echo next; exit 4", timeout_s=60).exit_code == 4


def test_a_runner_killed_from_inside_is_replaced(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path)
    killed = box.exec("echo before; sleep 1; kill -9 $PPID; sleep 1007", timeout_s=60)
    after = box.exec("echo alive", timeout_s=60)
    box.exec('nohup sh -c "sleep 0.5; kill -9 $PPID" > /dev/null 2>&1 &', timeout_s=60)
    time.sleep(2)
    later = box.exec("echo still; exit 6", timeout_s=60)
    assert killed.exit_code == -1 and not killed.timed_out
    assert killed.output == f"before\n\n[{RUNNER_ENDED_NOTE}]\n"
    assert not running(box, "sleep 1007")
    assert (after.exit_code, after.output) == (0, "alive\n")
    assert (later.exit_code, later.output) == (6, "still\n")
    assert running(box, "loopwright-runner"), "a new runner, not one docker exec per command"


def test_a_burst_of_output_keeps_its_head_tail_and_byte_count(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path, output_limit=2000)
    burst = "head -c 32m /dev/zero | tr '\\0' a & head -c 32m /dev/zero | tr '\\0' b; wait; echo; echo END; exit 9"
    started = time.monotonic()
    result = box.exec(burst, timeout_s=120)
    took = time.monotonic() - started
    assert (result.exit_code, result.timed_out, result.truncated) == (9, False, True)
    cut = 64 * 2**20 + len("\nEND\n") - 2000
    assert f"\n[... {cut} bytes of output cut ...]\n" in result.output
    assert result.output.endswith("END\n") and set(result.output[:1000]) <= {"a", "b"}
    assert took < 90, f"{took:.1f} s for 64 MiB"
    assert box.exec("echo next", timeout_s=60).output == "next\n"


def test_a_command_that_closes_its_output_early_is_waited_for(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path)
    quiet = box.exec("echo early; exec >&- 2>&-; sleep 2; exit 5", timeout_s=60)
    stuck = box.exec("exec >&- 2>&-; sleep 1008", timeout_s=2)
    assert (quiet.exit_code, quiet.timed_out, quiet.output) == (5, False, "early\n")
    assert quiet.duration_s >= 2
    assert stuck.timed_out and stuck.exit_code in (124, 137)
    assert not running(box, "sleep 1008")


def test_commands_start_as_a_login_shell_would_start_them(tmp_path, make_sandbox):
    """The login shell is skipped only where that changes nothing: compared with `sh -lc` through docker exec."""
    tmp_path.chmod(0o777)
    box = make_sandbox(tmp_path, user="4321:4321")
    state = "umask; echo \"$-\"; alias; set | grep -v -e '^PPID=' -e '^_='"
    # PS1 is read by Debian's /etc/profile, so with it the login shell is not skipped.
    for env in (None, {"EXTRA": "yes"}, {"PS1": "custom> "}):
        ours = box.exec(state, timeout_s=60, env=env)
        through_exec = run_exec(box._client.api, box._container.id, state, timeout_s=60, cap=OutputCap(10**6), env=env)
        assert ours.output == through_exec.output, env
    box.exec("echo 'export FROM_PROFILE=1' > ~/.profile", timeout_s=60)
    assert box.exec("echo $FROM_PROFILE", timeout_s=60).output == "1\n"
    box.exec("rm ~/.profile", timeout_s=60)
    assert box.exec("echo ${FROM_PROFILE:-unset}", timeout_s=60).output == "unset\n"


def test_killing_a_group_that_is_gone_leaves_the_container_alone(tmp_path, make_sandbox):
    """What the host does after a runner is lost or a command overran, when the group already ended."""
    box = make_sandbox(tmp_path)
    assert box.exec("echo first", timeout_s=60).exit_code == 0
    # procps 4.0 reads some such arguments (these among them) as "every process" unless they follow `--`.
    kill_in_container(box._client.api, box._container.id, 1234, 99999)
    assert box.exec("echo alive", timeout_s=60).output == "alive\n"


@pytest.fixture(scope="module")
def no_python_image(docker_client, sandbox_image):
    dockerfile = f"FROM {sandbox_image}\nRUN rm -f /usr/bin/python3* /usr/local/bin/python3*\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=NO_PYTHON_IMAGE, rm=True, network_mode="none")
    yield NO_PYTHON_IMAGE
    try:
        docker_client.images.remove(NO_PYTHON_IMAGE, force=True)
    except docker.errors.ImageNotFound:
        pass


def test_an_image_without_python_runs_commands_through_docker_exec(tmp_path, runtime, no_python_image):
    with DockerSandbox(tmp_path, image=no_python_image, runtime=runtime, install_dependencies=False) as box:
        first = box.exec("echo one; exit 2", timeout_s=60)
        second = box.exec("command -v python3 || echo none", timeout_s=60)
        slow = box.exec("sleep 1009", timeout_s=2)
        gone = not running(box, "sleep 1009")
    assert (first.exit_code, first.output) == (2, "one\n")
    assert second.output == "none\n"
    assert slow.timed_out and gone

"""The sandbox's walls, each tried from inside a real container, on runc and on gVisor (runsc).

Network, capabilities, git metadata, and the disk: the root file system is read-only, /tmp is a
small tmpfs, and the workspace may grow by the storage limit at most, whether by one large file or
by a flood of empty ones.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from loopwright.sandboxes.docker import OWNER_LABEL, SESSION_LABEL, DockerSandbox, _owner_token
from tests.repos import buggy_calc_repo

pytestmark = pytest.mark.docker

NO_NETWORK_PROBE = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('1.1.1.1', 53), timeout=5)\n"
    "    print('connected')\n"
    "except OSError as error:\n"
    "    print('refused', error.errno)\n"
)


def host_config(docker_client, box) -> dict:
    (container,) = docker_client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={box.session_id}"})
    return container.attrs["HostConfig"]


def test_container_starts_on_the_runtime_and_runs_a_command(tmp_path, make_sandbox, docker_client, runtime):
    box = make_sandbox(tmp_path)
    result = box.exec("echo hello; dmesg 2>&1 | head -n 1", timeout_s=60)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "hello"
    # gVisor's own kernel log says it started; under runc the host kernel's log is not readable.
    assert ("gVisor" in result.output) == (runtime == "runsc"), result.output
    assert box.runtime == runtime == host_config(docker_client, box)["Runtime"]


def test_no_network(tmp_path, make_sandbox):
    (tmp_path / "probe.py").write_text(NO_NETWORK_PROBE)
    box = make_sandbox(tmp_path)
    interfaces = box.exec("tail -n +3 /proc/net/dev | cut -d: -f1", timeout_s=60).output.split()
    probe = box.exec("python3 probe.py", timeout_s=60)
    assert interfaces == ["lo"]
    assert probe.output.startswith("refused"), probe.output


def test_capabilities_are_dropped(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path)
    effective = box.exec("grep CapEff /proc/self/status", timeout_s=60).output.split()
    chown = box.exec("touch mine && chown 4321:4321 mine", timeout_s=60)
    mount = box.exec("mkdir -p /tmp/m && mount -t tmpfs none /tmp/m", timeout_s=60)
    raw = box.exec("python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)'", timeout_s=60)
    assert effective == ["CapEff:", "0000000000000000"]
    assert chown.exit_code != 0 and "not permitted" in chown.output, chown.output
    assert mount.exit_code != 0, mount.output
    assert raw.exit_code != 0 and "PermissionError" in raw.output, raw.output


def test_git_metadata_is_read_only(tmp_path, make_sandbox):
    repo = buggy_calc_repo(tmp_path / "repo")
    config_before = (repo / ".git" / "config").read_text()
    box = make_sandbox(repo)
    planted = box.exec("echo '[core]\n\tfsmonitor = touch /workspace/PWNED' >> .git/config", timeout_s=60)
    hook = box.exec("echo 'touch /workspace/PWNED' > .git/hooks/pre-commit", timeout_s=60)
    edited = box.exec("echo '# changed' >> calc.py", timeout_s=60)
    assert planted.exit_code != 0 and "Read-only file system" in planted.output, planted.output
    assert hook.exit_code != 0 and "Read-only file system" in hook.output, hook.output
    assert edited.exit_code == 0
    assert (repo / ".git" / "config").read_text() == config_before
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_only_the_workspace_and_a_small_tmp_are_writable(tmp_path, make_sandbox, docker_client):
    box = make_sandbox(tmp_path, storage="64m", memory="512m")
    system = box.exec("touch /usr/planted", timeout_s=60)
    hosts = box.exec("echo '10.0.0.1 pypi.org' >> /etc/hosts", timeout_s=60)
    home = box.exec("echo cached > ~/.cache-probe && cat ~/.cache-probe", timeout_s=60)
    filled = box.exec("head -c 100m /dev/zero > /tmp/fill", timeout_s=60)
    after = box.exec("rm /tmp/fill && echo alive", timeout_s=60)
    assert system.exit_code != 0 and "Read-only file system" in system.output, system.output
    assert hosts.exit_code != 0 and "Read-only file system" in hosts.output, hosts.output
    assert (home.exit_code, home.output.strip()) == (0, "cached")
    assert filled.exit_code != 0 and "No space left on device" in filled.output, filled.output
    assert after.output.strip() == "alive"
    config = host_config(docker_client, box)
    assert config["ReadonlyRootfs"] is True
    # What a process writes to PID 1's output would otherwise pile up in the engine's log file.
    assert config["LogConfig"]["Type"] == "none"


def test_workspace_growth_past_the_limit_stops_the_command(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path, storage="64m")
    flood = box.exec("dd if=/dev/zero of=big bs=1M count=8192", timeout_s=300)
    size = (tmp_path / "big").stat().st_size
    # One fallocate call: the growth lands in a few milliseconds, well inside one look of the watch.
    quick = box.exec("rm big && fallocate -l 80m medium && echo written", timeout_s=60)
    cleaned = box.exec("rm medium && echo cleaned", timeout_s=60)
    assert flood.exit_code != 0 and not flood.timed_out
    assert "storage limit: the workspace grew by" in flood.output, flood.output
    assert size < 2 * 1024**3, f"{size} bytes written of the 8 GiB asked before the command was stopped"
    # A command that crosses the limit too quickly to be stopped still fails, with the same note.
    assert quick.exit_code == 1 and "written" in quick.output and "storage limit" in quick.output, quick.output
    assert (cleaned.exit_code, cleaned.output.strip()) == (0, "cleaned")


def test_a_flood_of_empty_files_counts_against_the_limit(tmp_path, make_sandbox):
    box = make_sandbox(tmp_path, storage="16m")
    made = box.exec("mkdir many && cd many && seq 1 6000 | xargs touch && echo made", timeout_s=120)
    assert made.exit_code != 0 and "storage limit" in made.output, made.output


def test_dependency_install_past_the_storage_limit_is_stopped(tmp_path, sandbox_image, docker_client):
    """The setup container has a writable layer of its own (then committed); it is held to the same limit, and past it
    nothing of it is kept: the session goes on from the base image and the report says why."""
    (tmp_path / "requirements.txt").write_text("six\n")
    before = {image.id for image in docker_client.images.list(all=True)}
    with DockerSandbox(tmp_path, image=sandbox_image, storage="8k", fresh_environment=True) as box:
        report = box.setup_report
        assert box.exec("echo alive", timeout_s=30).output.strip() == "alive"
    assert [f.what for f in report.failures] == ["the setup phase"], report.lines()
    assert re.match(r"^the setup phase wrote .+, over the storage limit of .+; nothing of it was kept$", report.failures[0].reason)
    assert report.venv == "" and not report.kept and report.image.startswith(sandbox_image.split(":")[0])
    assert {image.id for image in docker_client.images.list(all=True)} <= before
    assert docker_client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={_owner_token()}"}) == []


def test_space_freed_elsewhere_meanwhile_does_not_hide_the_growth(tmp_path, make_sandbox):
    """The cheap bound reads the disk's free space, which other processes move: files deleted on the same disk
    while the command runs would cancel its growth out. A command is measured exactly afterwards all the same."""
    workspace, elsewhere = tmp_path / "workspace", tmp_path / "elsewhere"
    workspace.mkdir()
    elsewhere.mkdir()
    for number in range(8000):
        (elsewhere / str(number)).touch()
    box = make_sandbox(workspace, storage="16m")

    def free_space_meanwhile() -> None:
        time.sleep(0.3)
        for path in elsewhere.iterdir():
            path.unlink()

    other = threading.Thread(target=free_space_meanwhile)
    other.start()
    made = box.exec("sleep 0.5 && mkdir many && cd many && seq 1 6000 | xargs touch && sleep 1 && echo made", timeout_s=120)
    other.join()
    assert made.exit_code != 0 and "storage limit" in made.output, made.output

"""Choosing the container runtime: settings from every source, gVisor for the PR bot, one clear line for a runtime the engine lacks."""

from __future__ import annotations

import pytest

from loopwright.github import settings as action_settings
from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.docker import OWNER_LABEL, DockerSandbox, _owner_token
from loopwright.models.scripted import call
from loopwright.settings import SettingsError, load
from tests.repos import buggy_calc_repo
from tests.test_cli import loopwright, write_script

MISSING = "loopwright-no-such-runtime"


def test_runtime_and_storage_come_from_file_environment_and_flag(tmp_path):
    (tmp_path / "loopwright.toml").write_text('[sandbox]\nruntime = "auto"\nstorage = "1g"\n')
    environ = {"HOME": str(tmp_path), "LOOPWRIGHT_SANDBOX_STORAGE": "512m"}
    from_file = load(tmp_path, environ={"HOME": str(tmp_path)})
    merged = load(tmp_path, {"sandbox.runtime": ("runsc", "--runtime")}, environ=environ)
    assert (from_file.config.sandbox.runtime, from_file.config.sandbox.storage) == ("auto", "1g")
    assert (merged.config.sandbox.runtime, merged.config.sandbox.storage) == ("runsc", "512m")
    assert merged.sources["sandbox.runtime"] == "--runtime"
    assert merged.sources["sandbox.storage"] == "env LOOPWRIGHT_SANDBOX_STORAGE"
    assert load(tmp_path / "nothing-here", environ={}).config.sandbox.runtime == "runc"
    with pytest.raises(SettingsError, match=r"sandbox\.storage: .*not a size: 'plenty'"):
        load(tmp_path, environ={**environ, "LOOPWRIGHT_SANDBOX_STORAGE": "plenty"})


def test_pr_bot_takes_gvisor_unless_the_trusted_settings_say_otherwise():
    assert action_settings.load({}).runtime == "auto"
    assert action_settings.load({}, '[sandbox]\nruntime = "runc"\n').runtime == "runc"
    assert action_settings.load({"LOOPWRIGHT_SANDBOX_RUNTIME": "runsc"}, '[sandbox]\nruntime = "runc"\n').runtime == "runsc"


@pytest.mark.docker
def test_auto_takes_gvisor_when_the_engine_has_it_and_says_so_when_not(tmp_path, sandbox_image, registered_runtimes):
    lines: list[str] = []
    with DockerSandbox(tmp_path, image=sandbox_image, install_dependencies=False, runtime="auto", progress=lines.append) as box:
        ran = box.exec("echo ok", timeout_s=60)
    assert ran.output.strip() == "ok"
    if "runsc" in registered_runtimes:
        assert (box.runtime, lines) == ("runsc", [])
    else:
        assert box.runtime == "runc"
        assert lines == ["warning: gVisor (runsc) is not registered with the Docker engine; the sandbox runs under runc"]


@pytest.mark.docker
def test_a_runtime_the_engine_lacks_is_one_clear_line(tmp_path, sandbox_image, docker_client):
    with pytest.raises(SandboxError) as raised:
        DockerSandbox(tmp_path, image=sandbox_image, install_dependencies=False, runtime=MISSING)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"container runtime '{MISSING}' is not registered with the Docker engine (it has: ")
    assert docker_client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={_owner_token()}"}) == []


@pytest.mark.docker
def test_run_with_a_runtime_the_engine_lacks_exits_nonzero_with_one_line(tmp_path, sandbox_image):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "s.json", [call("submit", summary="never reached")])
    done = loopwright("run", "fix it", "--repo", str(repo), "--model", f"scripted:{script}", "--runtime", MISSING, "-q")
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1 and f"container runtime '{MISSING}' is not registered" in lines[0], done.stderr
    assert "Traceback" not in done.stderr

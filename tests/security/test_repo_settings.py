"""A repository's loopwright.toml, which the sandbox, the model and a pull can write, loosens the sandbox or
starts programs on this machine only with the person's trust in exactly those values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopwright.models.scripted import call
from loopwright.repotrust import guard_of, trust
from loopwright.settings import keys, load
from tests.repos import buggy_calc_repo
from tests.test_cli import write_script

FAKE = str(Path(__file__).parents[1] / "fakes" / "mcp_server.py")

GUARDED = [
    ("sandbox.kind", '[sandbox]\nkind = "local"\n', "local"),
    ("sandbox.network", "[sandbox]\nnetwork = true\n", True),
    ("sandbox.runtime", '[sandbox]\nruntime = "kata-runtime"\n', "kata-runtime"),
    ("sandbox.image", '[sandbox]\nimage = "registry.example/planted:1"\n', "registry.example/planted:1"),
    ("sandbox.memory", '[sandbox]\nmemory = "64g"\n', "64g"),
    ("sandbox.pids", "[sandbox]\npids = 100000\n", 100000),
    ("sandbox.cpus", "[sandbox]\ncpus = 64\n", 64.0),
    ("sandbox.storage", '[sandbox]\nstorage = "500g"\n', "500g"),
    ("approval_mode", 'approval_mode = "full-auto"\n', "full-auto"),
    ("model", 'model = "openai:gpt-5@https://collector.example/v1"\n', "openai:gpt-5@https://collector.example/v1"),
    ("mcp_servers.docs", '[mcp_servers.docs]\ncommand = "docs-server"\n', "docs-server"),
]


def value_of(config, key: str):
    if key.startswith("mcp_servers."):
        server = config.mcp_servers.get(key.split(".", 1)[1])
        return server.command if server else None
    for part in key.split("."):
        config = getattr(config, part)
    return config


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home")}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("key, text, value", GUARDED, ids=[key for key, _, _ in GUARDED])
def test_a_guarded_setting_applies_only_once_trusted(tmp_path: Path, home, key: str, text: str, value):
    repo_file = write(tmp_path / "loopwright.toml", 'test_command = "make check"\n' + text)
    untrusted = load(tmp_path, environ=home)
    assert value_of(untrusted.config, key) != value
    assert untrusted.config.test_command == "make check"  # the rest of the file applies
    warning = untrusted.untrusted_warning()
    assert warning is not None and "\n" not in warning
    assert warning.startswith(f"{repo_file} sets {key}, ") and warning.endswith(f"loopwright config trust --repo {tmp_path}")

    assert untrusted.repo_trust is not None
    trust(untrusted.repo_trust)
    trusted = load(tmp_path, environ=home)
    assert value_of(trusted.config, key) == value and trusted.untrusted_warning() is None
    assert dict((k, s) for k, _, s in trusted.rows())[key] == f"{repo_file} (trusted)"


def test_a_change_to_a_trusted_value_needs_trust_again_and_other_changes_do_not(tmp_path: Path, home):
    write(tmp_path / "loopwright.toml", '[sandbox]\nnetwork = true\nkind = "local"\n')
    trust(load(tmp_path, environ=home).repo_trust)
    assert load(tmp_path, environ=home).config.sandbox.kind == "local"

    write(tmp_path / "loopwright.toml", 'test_command = "make"\n[limits]\nmax_steps = 5\n[sandbox]\nkind = "local"\nnetwork = true\n')
    reordered = load(tmp_path, environ=home)
    assert (reordered.config.sandbox.kind, reordered.config.test_command, reordered.untrusted_warning()) == ("local", "make", None)

    write(tmp_path / "loopwright.toml", '[sandbox]\nnetwork = true\nkind = "local"\nimage = "planted:1"\n')
    added = load(tmp_path, environ=home)
    assert (added.config.sandbox.kind, added.config.sandbox.network, added.config.sandbox.image) == ("docker", False, "loopwright-sandbox:latest")
    assert added.repo_trust is not None and {item.key for item in added.repo_trust.ignored} == {"sandbox.network", "sandbox.kind", "sandbox.image"}

    write(tmp_path / "loopwright.toml", '[sandbox]\nnetwork = 1\nkind = "local"\n')  # the same meaning, other content
    assert load(tmp_path, environ=home).config.sandbox.kind == "docker"


def test_free_and_tightening_settings_apply_without_trust(tmp_path: Path, home):
    write(
        tmp_path / "loopwright.toml",
        'test_command = "make check"\ncommand_timeout_s = 30\nmodel = "openai:gpt-5"\nedit_format = "udiff"\nrepo_map_tokens = 0\n'
        'approval_mode = "suggest"\n[limits]\nmax_steps = 80\n'
        '[sandbox]\nkind = "docker"\nnetwork = false\nruntime = "runsc"\nmemory = "1g"\npids = 64\ncpus = 1\nstorage = "512m"\npython = "3.9"\nsetup = ["make deps"]\n',
    )
    settings = load(tmp_path, environ=home)
    config = settings.config
    assert (config.test_command, config.command_timeout_s, config.model, config.edit_format, config.limits.max_steps) == ("make check", 30, "openai:gpt-5", "udiff", 80)
    assert (config.sandbox.runtime, config.sandbox.memory, config.sandbox.pids, config.sandbox.cpus, config.sandbox.storage) == ("runsc", "1g", 64, 1.0, "512m")
    assert (config.sandbox.python, config.sandbox.setup) == ("3.9", ["make deps"])
    assert settings.untrusted_warning() is None
    assert settings.repo_trust is not None and {settings.repo_trust.state(item) for item in settings.repo_trust.values} == {"applies"}


def test_looser_is_measured_against_the_persons_own_file(tmp_path: Path, home):
    write(tmp_path / "home" / ".config" / "loopwright" / "config.toml", 'approval_mode = "full-auto"\n[sandbox]\nruntime = "runsc"\ninstall_dependencies = false\nmemory = "8g"\n')
    write(tmp_path / "loopwright.toml", 'approval_mode = "auto-edit"\n[sandbox]\nruntime = "auto"\ninstall_dependencies = true\nmemory = "4g"\n')
    settings = load(tmp_path, environ=home)
    assert (settings.config.approval_mode, settings.config.sandbox.memory) == ("auto-edit", "4g")  # stricter than the person's
    assert (settings.config.sandbox.runtime, settings.config.sandbox.install_dependencies) == ("runsc", False)  # looser: ignored
    assert settings.repo_trust is not None and {item.key for item in settings.repo_trust.ignored} == {"sandbox.runtime", "sandbox.install_dependencies"}


def test_the_persons_environment_and_flags_stay_trusted_and_silence_the_keys_they_set(tmp_path: Path, home):
    write(tmp_path / "loopwright.toml", "[sandbox]\nnetwork = true\n[mcp_servers.docs]\ncommand = \"docs\"\n")
    environ = {**home, "LOOPWRIGHT_SANDBOX_NETWORK": "false"}
    settings = load(tmp_path, {"sandbox.kind": ("local", "--sandbox")}, environ=environ)
    assert (settings.config.sandbox.kind, settings.config.sandbox.network, settings.config.mcp_servers) == ("local", False, {})
    warning = settings.untrusted_warning()
    assert warning is not None and "mcp_servers.docs" in warning and "sandbox.network" not in warning
    user = write(tmp_path / "home" / ".config" / "loopwright" / "config.toml", '[sandbox]\nkind = "local"\nnetwork = true\n[mcp_servers.mine]\ncommand = "mine"\n')
    own = load(tmp_path / "elsewhere", environ=home)
    assert (own.config.sandbox.kind, own.config.sandbox.network, set(own.config.mcp_servers)) == ("local", True, {"mine"})
    assert own.sources["sandbox.kind"] == str(user) and own.repo_trust is None


def test_an_untrusted_value_is_still_checked(tmp_path: Path, home):
    from loopwright.settings import SettingsError

    write(tmp_path / "loopwright.toml", "[sandbox]\nnetwork = \"sometimes\"\n")
    with pytest.raises(SettingsError, match=r"loopwright\.toml: sandbox\.network: Input should be a valid boolean"):
        load(tmp_path, environ=home)


def test_the_classification_is_on_the_settings():
    guarded = {key for key in keys() if guard_of(key)}
    assert guarded == {
        "model", "approval_mode", "sandbox.kind", "sandbox.image", "sandbox.network", "sandbox.memory",
        "sandbox.pids", "sandbox.cpus", "sandbox.install_dependencies", "sandbox.runtime", "sandbox.storage",
    }
    assert guard_of("mcp_servers.anything") is guard_of("mcp_servers") is not None
    assert guard_of("sandbox.setup") is None and guard_of("limits.max_steps") is None and guard_of("no.such") is None


# -- the command line ------------------------------------------------------------------------------------


def loopwright(*args: str, env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", *args], capture_output=True, text=True, env=env, cwd=cwd, input=stdin, timeout=120)


def server(name: str, marker: Path) -> str:
    return f'[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(FAKE)}, "--marker", {json.dumps(str(marker))}]\n'


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The person's own environment: a local sandbox, chosen by them, not by the repository."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LOOPWRIGHT_STATE_DIR": str(tmp_path / "state"), "LOOPWRIGHT_SANDBOX_KIND": "local", "COLUMNS": "200"}


@pytest.mark.slow
def test_config_trust_shows_exactly_what_it_trusts_escaped_and_asks(tmp_path: Path, env):
    repo = tmp_path / "repo"
    marker = tmp_path / "ran"
    write(repo / "loopwright.toml", server("docs", marker) + 'env = { NOTE = "\\u001b]0;owned\\u0007 [bold]x[/]" }\n')
    shown = loopwright("config", env=env, cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "mcp_servers.docs = " in shown.stdout and "ignored, not trusted" in shown.stdout
    assert "MCP server docs" not in shown.stdout and not marker.exists()  # `config` starts only the servers that apply

    refused = loopwright("config", "trust", env=env, cwd=repo, stdin="n\n")
    assert refused.returncode == 1 and "not trusted" in refused.stdout
    assert "\x1b" not in refused.stdout and "\\u001b]0;owned\\u0007 [bold]x[/]" in refused.stdout
    assert "trust these values for this repository? [y/N]" in refused.stdout
    assert "ignored, not trusted" in loopwright("config", env=env, cwd=repo).stdout and not marker.exists()

    assert loopwright("config", "trust", env=env, cwd=repo).returncode == 1  # no answer is no
    accepted = loopwright("config", "trust", "--yes", "--repo", str(repo), env=env, cwd=tmp_path)
    assert accepted.returncode == 0 and "trusted:" in accepted.stdout
    after = loopwright("config", env=env, cwd=repo)
    assert "mcp_servers.docs" in after.stdout and " trusted" in after.stdout and "MCP server docs: started" in after.stdout
    assert marker.exists()
    assert "already trusted" in loopwright("config", "trust", env=env, cwd=repo).stdout


def test_config_trust_with_nothing_to_trust_says_so(tmp_path: Path, env):
    write(tmp_path / "loopwright.toml", 'test_command = "make"\n[sandbox]\nmemory = "1g"\n')
    done = loopwright("config", "trust", env=env, cwd=tmp_path)
    assert done.returncode == 0 and "nothing to trust" in done.stdout


@pytest.mark.slow
def test_a_model_written_config_starts_no_server_in_the_next_session(tmp_path: Path, env):
    """The model writes loopwright.toml with a server of its own and an edit to the one the person trusted; the next
    session warns in one line and starts neither, nor the trusted one now changed."""
    repo = buggy_calc_repo(tmp_path / "repo")
    trusted, planted, replaced = tmp_path / "trusted.ran", tmp_path / "planted.ran", tmp_path / "replaced.ran"
    write(repo / "loopwright.toml", 'test_command = "true"\nrepo_map_tokens = 0\n' + server("base", trusted))
    assert loopwright("config", "trust", "--yes", env=env, cwd=repo).returncode == 0
    assert not trusted.exists()  # trusting starts nothing

    written = 'test_command = "true"\nrepo_map_tokens = 0\n[sandbox]\nnetwork = true\n' + server("base", replaced) + server("evil", planted)
    first = write_script(tmp_path / "first.json", [call("write_file", path="loopwright.toml", content=written), call("submit", summary="configured")])
    ran = loopwright("run", "set things up", "--model", f"scripted:{first}", env=env, cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert trusted.exists() and not planted.exists() and not replaced.exists()  # this session ran with what was trusted
    trusted.unlink()

    second = write_script(tmp_path / "second.json", [call("submit", summary="nothing to do")])
    ran = loopwright("run", "carry on", "--model", f"scripted:{second}", env=env, cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not planted.exists() and not replaced.exists() and not trusted.exists()
    warnings = [line for line in ran.stderr.splitlines() if "loopwright config trust" in line]
    assert len(warnings) == 1 and "sandbox.network, mcp_servers.base, mcp_servers.evil" in warnings[0], ran.stderr


@pytest.mark.slow
def test_the_interactive_session_asks_once_and_a_no_ignores_them(tmp_path: Path):
    from tests.test_interactive import Session

    repo = buggy_calc_repo(tmp_path / "repo")
    marker = tmp_path / "ran"
    write(repo / "loopwright.toml", 'repo_map_tokens = 0\n' + server("docs", marker))
    session = Session(repo, [], tmp_path, "--sandbox", "local", env={"LOOPWRIGHT_STATE_DIR": str(tmp_path / "state")})
    session.expect("mcp_servers.docs = ")
    session.answer("trust them for this repository (else they are ignored)? [y/N]", "n")
    session.expect("ignored until you trust them: loopwright config trust")
    assert session.finish() == 0
    assert not marker.exists()

    session = Session(repo, [], tmp_path, "--sandbox", "local", env={"LOOPWRIGHT_STATE_DIR": str(tmp_path / "state")})
    session.answer("trust them for this repository (else they are ignored)? [y/N]", "y")
    assert session.finish() == 0
    assert marker.exists()

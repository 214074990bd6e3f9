"""Settings merged from defaults, config files, LOOPWRIGHT_* variables and CLI flags, with their sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from loopwright.settings import SettingsError, env_name, keys, load, user_config_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home")}


def test_defaults_when_nothing_is_set(tmp_path: Path, home):
    settings = load(tmp_path, environ=home)
    assert settings.config.approval_mode == "suggest" and settings.config.limits.max_steps == 30
    assert {source for _, _, source in settings.rows()} == {"default"}
    assert settings.files == ()


def test_each_layer_overrides_the_one_below(tmp_path: Path, home):
    user = write(tmp_path / "home" / ".config" / "loopwright" / "config.toml", 'model = "openai:gpt-5"\napproval_mode = "auto-edit"\n[limits]\nmax_steps = 10\nmax_tokens = 1000\n')
    repo = write(tmp_path / "repo" / "loopwright.toml", 'test_command = "make test"\n[limits]\nmax_steps = 20\n[sandbox]\nmemory = "1g"\n')
    environ = {**home, "LOOPWRIGHT_LIMITS_MAX_STEPS": "25", "LOOPWRIGHT_SANDBOX_NETWORK": "true", "LOOPWRIGHT_DEBUG": "1"}
    settings = load(tmp_path / "repo", {"limits.max_steps": (40, "--max-steps")}, environ=environ)
    config = settings.config
    assert (config.model, config.approval_mode, config.test_command) == ("openai:gpt-5", "auto-edit", "make test")
    assert (config.limits.max_steps, config.limits.max_tokens, config.sandbox.memory, config.sandbox.network) == (40, 1000, "1g", True)
    sources = {key: source for key, _, source in settings.rows()}
    assert sources["model"] == str(user) and sources["limits.max_tokens"] == str(user)
    assert sources["test_command"] == str(repo) and sources["sandbox.memory"] == str(repo)
    assert sources["sandbox.network"] == "env LOOPWRIGHT_SANDBOX_NETWORK"
    assert sources["limits.max_steps"] == "--max-steps"
    assert sources["limits.max_seconds"] == "default"
    assert settings.files == (user, repo)


def test_xdg_config_home_wins_over_home(tmp_path: Path):
    environ = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert user_config_path(environ) == tmp_path / "xdg" / "loopwright" / "config.toml"
    write(tmp_path / "xdg" / "loopwright" / "config.toml", 'approval_mode = "full-auto"\n')
    write(tmp_path / "home" / ".config" / "loopwright" / "config.toml", 'approval_mode = "auto-edit"\n')
    assert load(tmp_path, environ=environ).config.approval_mode == "full-auto"


def test_every_setting_has_an_environment_name():
    names = [env_name(key) for key in keys()]
    assert "LOOPWRIGHT_APPROVAL_MODE" in names and "LOOPWRIGHT_SANDBOX_IMAGE" in names and "LOOPWRIGHT_LIMITS_MAX_STEPS" in names
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    "text, message",
    [
        ('modle = "x"\n', "unknown setting 'modle'"),
        ("limits = 3\n", "put it under [limits] as a table"),
        ("[limits]\nmax_steps = 0\n", "limits.max_steps: Input should be greater than or equal to 1"),
        ('approval_mode = "yolo"\n', "approval_mode: Input should be 'suggest', 'auto-edit' or 'full-auto'"),
        ("model = \n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_the_setting(tmp_path: Path, home, text: str, message: str):
    path = write(tmp_path / "loopwright.toml", text)
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, environ=home)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_environment_value_names_the_variable(tmp_path: Path, home):
    with pytest.raises(SettingsError, match="^env LOOPWRIGHT_LIMITS_MAX_STEPS: limits.max_steps: "):
        load(tmp_path, environ={**home, "LOOPWRIGHT_LIMITS_MAX_STEPS": "many"})


def test_edit_format_per_model_longest_match_wins(tmp_path: Path, home):
    write(tmp_path / "loopwright.toml", 'edit_format = "search_replace"\n[edit_formats]\n"openai:" = "udiff"\n"openai:gpt-4.1-mini" = "str_replace"\n')
    config = load(tmp_path, environ=home).config
    assert config.edit_format_for("openai:gpt-4.1") == "udiff"
    assert config.edit_format_for("openai:gpt-4.1-mini") == "str_replace"
    assert config.edit_format_for("anthropic:claude-sonnet-4-5") == "search_replace"
    environ = {**home, "LOOPWRIGHT_EDIT_FORMATS": "anthropic:=udiff, local:=search_replace"}
    config = load(tmp_path / "other", environ=environ).config
    assert (config.edit_format_for("anthropic:x"), config.edit_format_for("local:qwen@http://h"), config.edit_format_for("openai:x")) == ("udiff", "search_replace", "str_replace")


@pytest.mark.parametrize("value, message", [("openai:udiff", "expected MODEL=FORMAT pairs"), ("openai:=bogus", "Input should be 'str_replace'")])
def test_bad_edit_formats_name_the_variable(tmp_path: Path, home, value: str, message: str):
    with pytest.raises(SettingsError, match="^env LOOPWRIGHT_EDIT_FORMATS: edit_formats") as caught:
        load(tmp_path, environ={**home, "LOOPWRIGHT_EDIT_FORMATS": value})
    assert message in str(caught.value)


def test_the_session_offers_the_edit_tools_of_the_models_format(tmp_path: Path, home):
    from loopwright.session import session_tools

    config = load(tmp_path, environ={**home, "LOOPWRIGHT_EDIT_FORMATS": "openai:=udiff", "LOOPWRIGHT_REPO_MAP_TOKENS": "0"}).config
    openai = {tool.name for tool in session_tools(tmp_path, config, "openai:gpt-5")}
    anthropic = {tool.name for tool in session_tools(tmp_path, config, "anthropic:claude")}
    assert "apply_patch" in openai and "edit_file" not in openai
    assert "edit_file" in anthropic and "apply_patch" not in anthropic


def loopwright(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_config_command_shows_values_and_sources(tmp_path: Path):
    import os

    write(tmp_path / "loopwright.toml", '[sandbox]\npids = 100\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LOOPWRIGHT_APPROVAL_MODE": "auto-edit", "COLUMNS": "200"}
    proc = loopwright("config", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line.strip()}
    assert rows["sandbox.pids"] == ["100", str(tmp_path / "loopwright.toml")]
    assert rows["approval_mode"] == ["auto-edit", "env", "LOOPWRIGHT_APPROVAL_MODE"]
    assert rows["limits.max_steps"] == ["30", "default"]

    write(tmp_path / "loopwright.toml", "[sandbox]\nimage = 3\n")
    bad = loopwright("config", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [f"loopwright: error: {tmp_path / 'loopwright.toml'}: sandbox.image: Input should be a valid string"]


def test_run_takes_its_settings_from_the_repository_file(tmp_path: Path):
    import os

    from tests.repos import buggy_calc_repo
    from tests.scenarios import WRONG_THEN_RIGHT
    from tests.test_cli import write_script

    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "s.json", WRONG_THEN_RIGHT)
    write(repo / "loopwright.toml", f'model = "scripted:{script}"\n[limits]\nmax_steps = 2\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LOOPWRIGHT_STATE_DIR": os.environ["LOOPWRIGHT_STATE_DIR"], "LOOPWRIGHT_SANDBOX_KIND": "local"}
    proc = loopwright("run", "fix it", "-q", env=env, cwd=repo)
    assert "stop reason : max_steps" in proc.stdout, proc.stdout + proc.stderr
    flagged = loopwright("run", "fix it", "-q", "--max-steps", "30", env=env, cwd=repo)
    assert "stop reason : submitted" in flagged.stdout

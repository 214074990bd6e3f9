"""The Rust toolchain's plan, and the setup phase's fallback to the image's Debian crate registry when crates.io
cannot be reached: which source served, what it lacked, what is kept. The setup container answers with cargo
1.85's own output; tests/test_languages_docker.py runs the same against a real container without network."""

from __future__ import annotations

import io
import time
import tomllib

from loopwright.sandboxes.base import ExecResult
from loopwright.sandboxes.envsetup import SetupContainer
from loopwright.sandboxes.langsetup import run_language_setup
from loopwright.sandboxes.toolchains.rust import CARGO_CONFIG, DEBIAN_REGISTRY, DEBIAN_SOURCE, Rust
from tests.repos import make_repo

MANIFEST = '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmemchr = "2"\n'
UNREACHABLE = (
    "    Updating crates.io index\n"
    "error: failed to get `memchr` as a dependency of package `calc v0.1.0 (/workspace)`\n\n"
    "Caused by:\n  download of config.json failed\n\n"
    "Caused by:\n  failed to download from `https://index.crates.io/config.json`\n\n"
    "Caused by:\n  [6] Could not resolve hostname (Could not resolve host: index.crates.io)\n"
)
NOT_IN_DEBIAN = (
    'error: failed to select a version for the requirement `rand = "^0.3.12"`\n'
    "candidate versions found which didn't match: 0.8.5\n"
    "location searched: directory source `/usr/share/cargo/registry` (which is replacing registry `crates-io`)\n"
    "required by package `robot-name v0.0.0 (/workspace)`\n"
    "perhaps a crate was updated and forgotten to be re-vendored?\n"
    "error: no matching package found\nsearched package name: `xshell`\nperhaps you meant: shlex\n"
)


def scripted_box(answers: dict[str, ExecResult]) -> tuple[SetupContainer, list[str]]:
    """A setup container answering the commands in `answers` (as run in /workspace) so, every other with success."""
    commands: list[str] = []

    def run(command: str, timeout_s: float, env) -> ExecResult:
        commands.append(command)
        return answers.get(command.removeprefix("cd /workspace && "), ExecResult(0, "", 0.1))

    return SetupContainer(run=run, put=lambda folder, tar: None), commands


def set_up(plan, answers: dict[str, ExecResult]):
    box, commands = scripted_box(answers)
    return run_language_setup(box, plan, io.BytesIO(b""), setup_commands=(), deadline=time.monotonic() + 600, progress=lambda line: None), commands


def test_crates_io_comes_first_and_the_debian_registry_stands_in_through_a_config_outside_the_workspace(tmp_path):
    plan = Rust().plan(make_repo(tmp_path / "calc", {"Cargo.toml": MANIFEST, "src/lib.rs": ""}))
    fetch = plan.steps[0]
    assert fetch.command == "cargo fetch" and fetch.network and fetch.fallback is not None
    assert fetch.fallback.command.endswith(f"> {CARGO_CONFIG} && cargo fetch") and not CARGO_CONFIG.startswith("/workspace")
    assert "no Cargo.lock: cargo resolves the newest matching versions on crates.io (cargo fetch)" in plan.decisions
    assert any(DEBIAN_REGISTRY in decision and "for the agent phase too" in decision for decision in plan.decisions)
    config = tomllib.loads("\n".join(DEBIAN_SOURCE))
    assert config["source"]["crates-io"]["replace-with"] == "debian-packages"
    assert config["source"]["debian-packages"] == {"directory": DEBIAN_REGISTRY}
    nothing_fetched = plan.steps[2]
    assert not nothing_fetched.network and "! grep -q '^source = \"registry+' Cargo.lock; then" in nothing_fetched.command
    assert nothing_fetched.command.endswith(f"> {CARGO_CONFIG}; fi")
    assert "librust-rand-dev" in Rust().packages and "librust-rustc-std-workspace-core-dev" in Rust().packages


def test_a_cargo_lock_keeps_the_debian_registry_to_its_versions_and_says_why_nothing_is_resolved_afresh(tmp_path):
    plan = Rust().plan(make_repo(tmp_path / "calc", {"Cargo.toml": MANIFEST, "Cargo.lock": "version = 4\n", "src/lib.rs": ""}))
    assert plan.steps[0].command == "cargo fetch --locked"
    assert plan.steps[0].fallback is not None and plan.steps[0].fallback.command.endswith("&& cargo fetch --locked")
    assert any("crates.io checksums" in decision and "rewrite the repository's Cargo.lock" in decision for decision in plan.decisions)


def test_when_crates_io_cannot_be_reached_the_debian_registry_serves_and_the_result_is_kept(tmp_path):
    plan = Rust().plan(make_repo(tmp_path / "calc", {"Cargo.toml": MANIFEST, "src/lib.rs": ""}))
    fallback = plan.steps[0].fallback
    assert fallback is not None
    result, commands = set_up(plan, {"cargo fetch": ExecResult(101, UNREACHABLE, 1.0)})
    assert [command for command in commands if command.startswith("cd /workspace && ")] == [
        "cd /workspace && cargo fetch", f"cd /workspace && {fallback.command}", "cd /workspace && cargo test --no-run",
        f"cd /workspace && {plan.steps[2].command}", f"cd /workspace && {plan.packages_command}",
    ]
    assert not result.failures and result.keep
    assert result.fetched == [fallback.command]
    assert any("could not reach its source; fetch the crates from the image's Debian registry served instead" in note for note in result.notes)


def test_what_the_debian_registry_lacks_is_named_and_the_result_not_kept(tmp_path):
    plan = Rust().plan(make_repo(tmp_path / "robot", {"Cargo.toml": MANIFEST.replace('memchr = "2"', 'rand = "0.3.12"'), "src/lib.rs": ""}))
    fallback = plan.steps[0].fallback
    assert fallback is not None
    result, _ = set_up(plan, {"cargo fetch": ExecResult(101, UNREACHABLE, 1.0), fallback.command: ExecResult(101, NOT_IN_DEBIAN, 0.5)})
    assert [failure.what for failure in result.failures] == ["fetch the crates", "fetch the crates from the image's Debian registry"]
    assert "Could not resolve host: index.crates.io" in result.failures[0].reason
    assert "searched package name: `xshell`" in result.failures[1].reason and "rand" not in result.failures[1].reason  # the tail; the note reads it all
    assert "fetch the crates from the image's Debian registry: its source lacks rand = \"^0.3.12\", xshell" in result.notes
    assert not result.keep and not result.fetched


def test_a_fetch_that_fails_for_another_reason_than_the_network_has_no_fallback(tmp_path):
    plan = Rust().plan(make_repo(tmp_path / "calc", {"Cargo.toml": MANIFEST, "src/lib.rs": ""}))
    yanked = "error: failed to select a version for the requirement `memchr = \"^9\"`\ncandidate versions found which didn't match: 2.7.4\n"
    result, commands = set_up(plan, {"cargo fetch": ExecResult(101, yanked, 1.0)})
    fallback = plan.steps[0].fallback
    assert fallback is not None and not any(fallback.command in command for command in commands)
    assert [failure.what for failure in result.failures] == ["fetch the crates"] and result.keep
    assert result.notes == ["build the tests ran after a failed fetch: what could not be fetched is missing offline"]


def test_a_cargo_lock_the_repository_ignores_is_resolved_afresh_and_not_keyed(tmp_path):
    repo = make_repo(tmp_path / "lib", {"Cargo.toml": MANIFEST, "src/lib.rs": "", ".gitignore": "/target\nCargo.lock\n"})
    before = Rust().plan(repo)
    (repo / "Cargo.lock").write_text('version = 3\n\n[[package]]\nname = "memchr"\nversion = "2.7.4"\n')  # what a session's cargo wrote
    after = Rust().plan(repo)
    assert after.steps[0].command == "cargo fetch" and "ignored by the repository's .gitignore" in after.decisions[0]
    assert "Cargo.lock" not in after.defining and after.cache_key("base") == before.cache_key("base")
    kept = make_repo(tmp_path / "app", {"Cargo.toml": MANIFEST, "src/main.rs": "", "Cargo.lock": "version = 3\n"})
    assert Rust().plan(kept).steps[0].command == "cargo fetch --locked" and "Cargo.lock" in Rust().plan(kept).defining

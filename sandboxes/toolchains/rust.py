"""Rust: crates fetched in the setup phase (`cargo fetch`, locked when the project has a Cargo.lock) into a cargo
home in the image, `cargo test --no-fail-fast` in the agent phase with cargo offline.

The build goes to a target folder under /tmp, not into the workspace: the setup phase leaves the tests built
there (dependencies compiled), and the agent phase starts from that copy.
"""

from __future__ import annotations

from pathlib import Path

from loopwright.sandboxes.toolchains.base import HOME, SetupStep, ToolchainPlan, read_defining

CARGO_HOME = f"{HOME}/cargo"
TARGET = "/tmp/loopwright-target"
TEST_COMMAND = "cargo test --no-fail-fast"


class Rust:
    language: str = "rust"
    title: str = "Rust"
    packages: tuple[str, ...] = ("rustc", "cargo", "gcc", "libc6-dev")
    image_env: dict[str, str] = {
        "CARGO_HOME": CARGO_HOME,
        "CARGO_NET_OFFLINE": "true",
        "CARGO_TARGET_DIR": TARGET,
        "CARGO_TERM_COLOR": "never",
        "CARGO_TERM_PROGRESS_WHEN": "never",
    }
    registry_dockerfile: str = "Dockerfile.rust"
    image_warmup: str = ""
    image_warm: tuple[str, ...] = ()

    def plan(self, root: Path) -> ToolchainPlan:
        locked = (root / "Cargo.lock").is_file()
        fetch = "cargo fetch --locked" if locked else "cargo fetch"
        decisions = [
            "Cargo.lock: the locked versions are fetched (cargo fetch --locked)" if locked
            else "no Cargo.lock: cargo resolves the newest matching versions (cargo fetch)",
            "the agent phase runs cargo offline (CARGO_NET_OFFLINE=true), building under /tmp",
        ]
        manifests = ["Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml", ".cargo/config.toml", ".cargo/config"]
        manifests += sorted(p.relative_to(root).as_posix() for p in root.glob("*/Cargo.toml"))
        manifests += sorted(p.relative_to(root).as_posix() for p in root.glob("*/*/Cargo.toml"))
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(SetupStep("fetch the crates", fetch), SetupStep("build the tests", "cargo test --no-run", network=False)),
            test_command=TEST_COMMAND,
            setup_env={"CARGO_NET_OFFLINE": "false"},
            warm=(TARGET,),
            defining=read_defining(root, manifests),
            decisions=tuple(decisions),
            version_command="rustc --version && cargo --version",
            packages_command="cargo tree --prefix none -e normal,build,dev 2>/dev/null | sed 's/ (\\*)$//' | sort -u",
        )

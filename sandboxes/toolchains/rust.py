"""Rust: crates fetched in the setup phase (`cargo fetch`, locked when the project has a Cargo.lock) into a cargo
home in the image, `cargo test --no-fail-fast` in the agent phase with cargo offline.

crates.io comes first. When it cannot be reached, the image's Debian crate registry stands in: the crates Debian
packages (`librust-*-dev`, installed into /usr/share/cargo/registry, a directory source cargo reads offline),
made crates.io's replacement by a config file in the cargo home, outside the workspace, which the agent phase
reads too. A Cargo.lock keeps it to the locked versions (`--locked`); cargo also checks the lockfile's crates.io
checksums, which Debian's repackaged crates do not carry, so in practice the registry serves projects without
one. Resolving afresh instead would make the agent phase's cargo rewrite the repository's Cargo.lock. A project
that fetched nothing from crates.io gets the Debian registry too: the agent phase is offline, and there a crate it
adds resolves from the image rather than not at all.

The build goes to a target folder under /tmp, not into the workspace: the setup phase leaves the tests built
there (dependencies compiled), and the agent phase starts from that copy.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.toolchains.base import HOME, SetupStep, ToolchainPlan, read_defining

CARGO_HOME = f"{HOME}/cargo"
TARGET = "/tmp/loopwright-target"
TEST_COMMAND = "cargo test --no-fail-fast"
DEBIAN_REGISTRY = "/usr/share/cargo/registry"
CARGO_CONFIG = f"{CARGO_HOME}/config.toml"
"""Cargo reads its home's config after the workspace's own .cargo/config.toml: a project's own source replacement wins."""
DEBIAN_SOURCE = ("[source.crates-io]", 'replace-with = "debian-packages"', "[source.debian-packages]", f'directory = "{DEBIAN_REGISTRY}"')
"""The lines of CARGO_CONFIG that make the Debian registry crates.io's replacement."""
DEBIAN_CRATES = (
    # the crates of the polyglot exercises and the most used ones
    "rand", "regex", "itertools", "num", "num-bigint", "anyhow", "thiserror", "thiserror-1", "serde", "serde-derive", "serde-json",
    "time", "chrono", "once-cell", "lazy-static", "counter", "libc", "memchr", "log", "bitflags", "byteorder", "unicode-segmentation",
    "tempfile", "rayon", "crossbeam", "parking-lot-core", "portable-atomic", "critical-section",
    # test tools
    "proptest", "quickcheck", "pretty-assertions", "approx",
    # optional dependencies of low-level crates, which cargo resolves for a project's own manifest even when unused
    "rustc-std-workspace-core", "rustc-std-workspace-std", "compiler-builtins", "no-panic",
)
"""Debian's crates in the image (librust-<name>-dev, with what they depend on: about 260 crates, 95 MiB). Not
criterion: 48 MiB more with its plotting and fonts, for 0.5 where projects at their newest commit ask 0.6 to 0.8."""
LACKS = r"(?:no matching package named|searched package name:|failed to select a version for the requirement) `([^`]+)`"


class Rust:
    language: str = "rust"
    title: str = "Rust"
    packages: tuple[str, ...] = ("rustc", "cargo", "gcc", "libc6-dev", *(f"librust-{name}-dev" for name in DEBIAN_CRATES))
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
        ignored = (root / "Cargo.lock").is_file() and lockfile_ignored(root)
        locked = (root / "Cargo.lock").is_file() and not ignored
        fetch = "cargo fetch --locked" if locked else "cargo fetch"
        decisions = [
            "Cargo.lock: the locked versions are fetched from crates.io (cargo fetch --locked)" if locked
            else "no Cargo.lock: cargo resolves the newest matching versions on crates.io (cargo fetch)",
            f"when crates.io cannot be reached, the image's Debian crate registry ({DEBIAN_REGISTRY}) stands in:"
            f" cargo's source replacement in {CARGO_CONFIG}, outside the workspace, for the agent phase too",
            "when nothing came from crates.io, the agent phase gets the Debian registry as well: offline, a crate added there resolves from the image",
            "the agent phase runs cargo offline (CARGO_NET_OFFLINE=true), building under /tmp; with the Debian registry, a Cargo.lock cargo writes"
            " in the workspace records its crates, without crates.io's checksums: delete it before building against crates.io",
        ]
        if ignored:
            decisions[0] = (
                "Cargo.lock is ignored by the repository's .gitignore (one cargo wrote, not the project's): cargo resolves as without one"
                " (cargo fetch), and it is no part of the environment's key"
            )
        if locked:
            decisions.insert(2, (
                "with the Cargo.lock the Debian registry can serve only its exact versions, and cargo refuses them where the lockfile records"
                " crates.io checksums (Debian's crates carry none); no fresh resolution, which would make cargo rewrite the repository's Cargo.lock"
            ))
        manifests = ["Cargo.toml", *(["Cargo.lock"] if locked else []), "rust-toolchain", "rust-toolchain.toml", ".cargo/config.toml", ".cargo/config"]
        manifests += sorted(p.relative_to(root).as_posix() for p in root.glob("*/Cargo.toml"))
        manifests += sorted(p.relative_to(root).as_posix() for p in root.glob("*/*/Cargo.toml"))
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(
                SetupStep("fetch the crates", fetch, fallback=debian_fetch(fetch)),
                SetupStep("build the tests", "cargo test --no-run", network=False),
                NOTHING_FROM_CRATES_IO,
            ),
            test_command=TEST_COMMAND,
            setup_env={"CARGO_NET_OFFLINE": "false"},
            warm=(TARGET,),
            defining=read_defining(root, manifests),
            decisions=tuple(decisions),
            version_command="rustc --version && cargo --version",
            packages_command="cargo tree --prefix none -e normal,build,dev 2>/dev/null | sed 's/ (\\*)$//' | sort -u",
        )


def lockfile_ignored(root: Path) -> bool:
    """Whether the root's .gitignore names Cargo.lock: a library's lockfile is often ignored, and the one there is
    then what cargo wrote in an earlier session (against the Debian registry, say), not a lock the project keeps."""
    text = hostfs.read_text(root, root / ".gitignore", 1 << 20) or ""
    return any(line.strip() in ("Cargo.lock", "/Cargo.lock", "**/Cargo.lock") for line in text.splitlines())


def debian_fetch(fetch: str) -> SetupStep:
    """`fetch` from the image's Debian crate registry, made crates.io's replacement for every later cargo command."""
    missing = f"the image has no Debian crate registry ({DEBIAN_REGISTRY}); rebuild it with: loopwright sandbox build --language rust"
    command = f"{{ [ -d {DEBIAN_REGISTRY} ] || {{ echo {shlex.quote(missing)}; exit 1; }}; }} && {_USE_DEBIAN} && {fetch}"
    return SetupStep("fetch the crates from the image's Debian registry", command, lacks=LACKS)


_USE_DEBIAN = f"mkdir -p {CARGO_HOME} && printf '%s\\n' {' '.join(shlex.quote(line) for line in DEBIAN_SOURCE)} > {CARGO_CONFIG}"
NOTHING_FROM_CRATES_IO = SetupStep(
    "give the agent phase the Debian registry when nothing came from crates.io",
    f"if [ -d {DEBIAN_REGISTRY} ] && [ -f Cargo.lock ] && ! grep -q '^source = \"registry+' Cargo.lock; then {_USE_DEBIAN}; fi",
    network=False,
)
"""After a fetch that left a Cargo.lock without a registry crate (only the project's own and path or git ones)."""

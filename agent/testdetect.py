"""Guess the command that runs a project's tests when the user gave none."""

from __future__ import annotations

import json
from pathlib import Path

from loopwright.sandboxes import hostfs

MANIFEST_BYTES = 1 << 20
PYTEST = "python3 -m pytest -q -rfE --tb=short -p no:cacheprovider"


def detect(root: Path) -> str:
    if (root / "package.json").is_file():
        try:
            scripts = json.loads(hostfs.read_text(root, root / "package.json", MANIFEST_BYTES) or "{}").get("scripts", {})
        except (ValueError, AttributeError):
            scripts = {}
        if "test" in scripts:
            return "npm test --silent"
    if (root / "go.mod").is_file():
        return "go test ./..."
    if (root / "Cargo.toml").is_file():
        return "cargo test --quiet"
    return PYTEST

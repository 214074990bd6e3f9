"""Guess the command that runs a project's tests when the user gave none, from evidence: the project's
main language (its source files, counted, with manifests and lockfiles at the root as extra weight).

A Python project that ships a package.json for its docs tooling is still a Python project; `npm test`
is the answer only when JavaScript or TypeScript is what the project is written in.
"""

from __future__ import annotations

import json
import os
from collections import Counter, deque
from pathlib import Path

from loopwright.sandboxes import hostfs

MANIFEST_BYTES = 1 << 20
PYTEST = "python3 -m pytest -q -rfE --tb=short -p no:cacheprovider"
NPM = "npm test --silent"
GO = "go test ./..."
CARGO = "cargo test --quiet"
MAX_ENTRIES = 50_000
"""Names looked at, at most; a huge tree is judged by its first part (walked shallowest first)."""
MANIFEST_WEIGHT = 3
"""A manifest or lockfile at the root counts as this many source files of its language."""

SOURCE_LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".pyx": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "javascript",
    ".tsx": "javascript",
    ".mts": "javascript",
    ".cts": "javascript",
    ".go": "go",
    ".rs": "rust",
}
MANIFESTS = {
    "pyproject.toml": "python",
    "setup.py": "python",
    "setup.cfg": "python",
    "requirements.txt": "python",
    "Pipfile": "python",
    "Pipfile.lock": "python",
    "poetry.lock": "python",
    "uv.lock": "python",
    "tox.ini": "python",
    "package-lock.json": "javascript",
    "yarn.lock": "javascript",
    "pnpm-lock.yaml": "javascript",
    "tsconfig.json": "javascript",
    "go.mod": "go",
    "go.sum": "go",
    "Cargo.toml": "rust",
    "Cargo.lock": "rust",
}
SKIPPED_DIRS = {
    "node_modules", "bower_components", "vendor", "third_party", "site-packages", "venv", "env",
    "__pycache__", "dist", "build", "target", "_build", "_static", "htmlcov",
}
"""Dependencies, build outputs and generated docs: not what the project is written in. Hidden folders go too."""


def detect(root: Path) -> str:
    language = main_language(root)
    if language == "javascript" and _npm_test_script(root):
        return NPM
    if language == "go":
        return GO
    if language == "rust":
        return CARGO
    return PYTEST


def main_language(root: Path) -> str | None:
    """The language with the most evidence; None when there is none. Ties go to Python, then by name."""
    scores = language_evidence(root)
    if not scores:
        return None
    return max(scores, key=lambda language: (scores[language], language == "python", language))


def language_evidence(root: Path) -> Counter[str]:
    scores: Counter[str] = Counter()
    for name, language in MANIFESTS.items():
        if (root / name).is_file():
            scores[language] += MANIFEST_WEIGHT
    seen = 0
    folders = deque([root])
    while folders and seen < MAX_ENTRIES:
        folder = folders.popleft()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            seen += 1
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_DIRS:
                    folders.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and not entry.name.endswith((".min.js", ".d.ts")):
                found = SOURCE_LANGUAGES.get(os.path.splitext(entry.name)[1])
                if found:
                    scores[found] += 1
    return scores


def _npm_test_script(root: Path) -> bool:
    if not (root / "package.json").is_file():
        return False
    try:
        scripts = json.loads(hostfs.read_text(root, root / "package.json", MANIFEST_BYTES) or "{}").get("scripts", {})
    except (ValueError, AttributeError, OSError):
        return False
    return isinstance(scripts, dict) and "test" in scripts

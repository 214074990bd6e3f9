"""Builds a language's sandbox image with no container registry: the Debian root filesystem the Python images
start from (`loopwright-rootfs:trixie`, made by debootstrap when missing) plus the language's Debian packages,
one layer per language, so every language shares the root filesystem's layer and they build side by side.

Trixie gives Go 1.24, Rust 1.85, g++ 14 and CMake 3.31. Each image is tagged `loopwright-sandbox:<language>`
and labelled with its language; the environment setup finds it by that tag (toolchains/registry.py).

Public: `build_language_images`, `language_tag`, LANGUAGE_RELEASE.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import docker.errors

from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.docker import connect
from loopwright.sandboxes.image import BASE_REPOSITORY, BUILD_TIMEOUT_S, DEFAULT_IMAGE, HOST_CA_BUNDLE, build_rootfs
from loopwright.sandboxes.toolchains.base import WARM, WARM_SCRIPT, Toolchain, warm_name, warm_script
from loopwright.sandboxes.toolchains.registry import TOOLCHAINS, language_image

LANGUAGE_RELEASE = "trixie"
LANGUAGE_LABEL = "loopwright.language"


def language_tag(language: str, image: str = DEFAULT_IMAGE) -> str:
    return language_image(image, language)


def build_language_images(
    languages: list[str], *, mirror: str | None = None, image: str = DEFAULT_IMAGE, progress: Callable[[str], None] = print
) -> dict[str, tuple[str, float]]:
    """Build each of `languages` (keys of TOOLCHAINS) side by side; language -> (image id, seconds it took)."""
    unknown = [name for name in languages if name not in TOOLCHAINS]
    if unknown:
        raise SandboxError(f"no toolchain for {', '.join(unknown)}; known: {', '.join(TOOLCHAINS)}")
    client = connect(timeout=BUILD_TIMEOUT_S)
    base = f"{BASE_REPOSITORY}:{LANGUAGE_RELEASE}"
    try:
        try:
            client.images.get(base)
            progress(f"using the root filesystem {base}")
        except docker.errors.ImageNotFound:
            started = time.monotonic()
            build_rootfs(client, LANGUAGE_RELEASE, mirror, progress)
            progress(f"root filesystem {base} built in {time.monotonic() - started:.0f}s")
        with ThreadPoolExecutor(max(1, len(languages))) as pool:
            futures = {name: pool.submit(_build_one, client, TOOLCHAINS[name], base, language_tag(name, image), progress) for name in languages}
            return {name: future.result() for name, future in futures.items()}
    finally:
        client.close()


def _build_one(client, chain: Toolchain, base: str, tag: str, progress: Callable[[str], None]) -> tuple[str, float]:
    started = time.monotonic()
    progress(f"{tag}: installing {', '.join(chain.packages)}")
    context = Path(tempfile.mkdtemp(prefix=f"loopwright-{chain.language}-image-"))
    try:
        template = resources.files("loopwright.sandboxes").joinpath("images/Dockerfile.language").read_text()
        (context / "Dockerfile").write_text(template + "".join(f"ENV {key}={value}\n" for key, value in chain.image_env.items()) + _warmup(chain))
        if not HOST_CA_BUNDLE.is_file():
            raise SandboxError(f"CA bundle {HOST_CA_BUNDLE} not found; install ca-certificates")
        shutil.copyfile(HOST_CA_BUNDLE, context / "ca.crt")
        previous = _image_id(client, tag)
        try:
            built, _ = client.images.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE": base, "LANGUAGE": chain.language, "PACKAGES": " ".join(chain.packages)},
                rm=True,
                forcerm=True,
                labels={"loopwright.image": "sandbox", LANGUAGE_LABEL: chain.language},
            )
        except docker.errors.BuildError as error:
            raise SandboxError(f"building {tag} failed: {error.msg}") from None
        if previous and previous != built.id:
            try:
                client.images.remove(previous)
            except docker.errors.APIError:
                pass  # still used by a running session's container
        took = time.monotonic() - started
        progress(f"built {tag} in {took:.0f}s")
        return built.id, took
    finally:
        shutil.rmtree(context, ignore_errors=True)


def _warmup(chain: Toolchain) -> str:
    """The Dockerfile's last step: the toolchain's warm-up, its caches kept under WARM with the script that restores them."""
    if not chain.image_warmup:
        return ""
    saves = " && ".join(f"cp -a {folder} {WARM}/{warm_name(folder)}" for folder in chain.image_warm)
    script = warm_script(list(chain.image_warm))
    return (
        f"RUN {chain.image_warmup} && mkdir -p {WARM} && {saves}"
        f" && echo {base64.b64encode(script.encode()).decode()} | base64 -d > {WARM_SCRIPT} && chmod 0755 {WARM_SCRIPT} && chmod -R a+rX {WARM}"
        f" && rm -rf {' '.join(chain.image_warm)}\n"
    )


def _image_id(client, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None

"""The offline sandbox image: where its packages come from, and what it holds once built."""

from __future__ import annotations

import os

import pytest

from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.docker import DockerSandbox
from loopwright.sandboxes.image import build_image, find_mirror

DEB822 = """\
Types: deb
# a snapshot comment
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources_prefers_the_main_suite(tmp_path):
    sources = tmp_path / "debian.sources"
    sources.write_text(DEB822.replace("bookworm bookworm-updates", "bookworm-updates bookworm", 1))
    security_first = tmp_path / "security-first.sources"
    security_first.write_text("\n\n".join(reversed(DEB822.split("\n\n"))))
    assert find_mirror(sources, tmp_path / "none.list") == "http://mirror.example.org/debian"
    assert find_mirror(security_first, tmp_path / "none.list") == "http://mirror.example.org/debian"


def test_mirror_from_legacy_sources_list(tmp_path):
    legacy = tmp_path / "sources.list"
    legacy.write_text(
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb-src http://source.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://legacy.example.org/debian bookworm main\n"
    )
    assert find_mirror(tmp_path / "none.sources", legacy) == "http://legacy.example.org/debian"


def test_no_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(SandboxError, match=r"^no Debian mirror found in .*; pass one explicitly"):
        find_mirror(tmp_path / "none.sources", tmp_path / "none.list")


def test_building_without_root_is_a_clear_error(monkeypatch):
    # The check runs before anything is touched; as root, present a non-root user id to it.
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match=r"^building the sandbox image needs root"):
        build_image("loopwright-test:never")


@pytest.mark.docker
def test_image_has_the_tools_and_conventions(tmp_path, sandbox_image):
    checks = (
        "python --version && python3 -m pytest --version && git --version && timeout --version | head -1"
        " && ps --version && test -s /etc/loopwright/ca.crt"
        " && git config --system --get safe.directory"
        ' && echo "$PIP_CERT $SSL_CERT_FILE $REQUESTS_CA_BUNDLE"'
        ' && echo "$PIP_BREAK_SYSTEM_PACKAGES$PYTHONDONTWRITEBYTECODE$PYTHONUNBUFFERED"'
        " && python3 -c 'import venv, ssl; print(ssl.get_default_verify_paths().openssl_cafile)'"
    )
    with DockerSandbox(tmp_path, image=sandbox_image, install_dependencies=False) as box:
        result = box.exec(checks, timeout_s=60)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-4] == "*"
    assert lines[-3] == " ".join(["/etc/loopwright/ca.crt"] * 3)
    assert lines[-2] == "111"

"""What the Java toolchain reads from a Java build's files and from the person's Maven settings: the
dependencies a build names (poms as XML, Gradle files as text; never run) and the mirror of Maven Central the
person's settings name. Everything from the workspace is hostile: only plain names are taken, each safe in a path
and a shell command; XML is read with no DTDs or entities.

Public: `named_dependencies`, `maven_mirror`.
"""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from loopwright.sandboxes import hostfs

GRADLE_FILES = ("build.gradle", "build.gradle.kts")
BUILD_FILE_BYTES = 1 << 20
SETTINGS_BYTES = 1 << 20
MAX_NAMED = 100
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9._~%/+-]*)?$")
_CONFIGURATION = re.compile(r"\b(?:implementation|api|compile|compileOnly|runtimeOnly|testImplementation|testCompile|testRuntimeOnly|testCompileOnly)\b")
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_COORDINATE = re.compile(r"""["']([A-Za-z0-9_][A-Za-z0-9_.-]*):([A-Za-z0-9_][A-Za-z0-9_.-]*)(?::[A-Za-z0-9_.+-]*)?["']""")


def named_dependencies(root: Path) -> list[tuple[str, str]]:
    """(group, artifact) of each dependency the poms (the root's and its modules') declare, and of each
    `"group:artifact:version"` a Gradle build file names on a dependency line: read as XML or text, never run;
    only plain names, so that each is safe in a path and a command."""
    named: dict[tuple[str, str], None] = {}
    for pom in [root / "pom.xml", *sorted(root.glob("*/pom.xml"))]:
        for group, artifact in _pom_dependencies(root, pom):
            if _PLAIN.match(group) and _PLAIN.match(artifact):
                named[(group, artifact)] = None
    for name in GRADLE_FILES:
        text = hostfs.read_text(root, root / name, BUILD_FILE_BYTES) or ""
        for line in text.splitlines():
            if _CONFIGURATION.search(line):
                for match in _COORDINATE.finditer(line):
                    named[(match.group(1), match.group(2))] = None
    return list(named)[:MAX_NAMED]


def maven_mirror(settings: Path) -> tuple[str | None, str]:
    """(the URL of the mirror of Maven Central that `settings` names, or None; why, in words, or "" when the file
    names none). The file is the person's own, read as XML with no entities; only a plain http(s) URL is taken."""
    try:
        data = settings.read_bytes()[:SETTINGS_BYTES] if settings.is_file() else b""
    except OSError:
        return None, ""
    if not data:
        return None, ""
    try:
        document = SafeTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeTree.ParseError, DefusedXmlException, ValueError):
        return None, f"{settings} is not valid XML: its mirrors are not used"
    for mirror in document.iter():
        if _local(mirror.tag) != "mirror":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in mirror}
        covers = [name.strip() for name in fields.get("mirrorOf", "").split(",")]
        if not any(name in ("*", "central", "external:*") for name in covers) or "!central" in covers:
            continue
        url = fields.get("url", "")
        if not _SAFE_URL.match(url):
            return None, f"the mirror in {settings} is not a plain http(s) URL: Maven Central is used"
        return url, f"the setup phase fetches through the mirror your Maven settings name ({url}), without its credentials"
    return None, ""


def _pom_dependencies(root: Path, pom: Path) -> list[tuple[str, str]]:
    try:
        text = hostfs.read_bytes(root, pom, BUILD_FILE_BYTES) if pom.is_file() else b""
    except OSError:
        return []
    if not text:
        return []
    try:
        document = SafeTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeTree.ParseError, DefusedXmlException, ValueError):
        return []
    found = []
    for element in document.iter():
        if _local(element.tag) == "dependency":
            fields = {_local(child.tag): (child.text or "").strip() for child in element}
            if fields.get("type", "jar") == "jar" and fields.get("scope") != "import":
                found.append((fields.get("groupId", ""), fields.get("artifactId", "")))
    return found


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]

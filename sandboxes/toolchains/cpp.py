"""C and C++: CMake (configure and build in the setup phase, CTest with JUnit output in the agent phase) or, for
a project with only a Makefile, `make test` / `make check`.

CMake's configure step is where dependencies come in (FetchContent, ExternalProject), so it runs with the
network on; the build folder lives under /tmp (at the same path in both phases, as CMake requires), and
the agent phase starts from the setup phase's copy of it, rebuilding only what the agent changed.
"""

from __future__ import annotations

import re
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.toolchains.base import SetupStep, ToolchainPlan, read_defining

BUILD = "/tmp/loopwright-build"
CONFIGURE = f"cmake -S . -B {BUILD} -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON"
COMPILE = f"cmake --build {BUILD} --parallel 4"
CTEST = f'ctest --test-dir {BUILD} --output-on-failure --no-tests=error --output-junit "${{LOOPWRIGHT_JUNIT:-/tmp/loopwright-ctest.xml}}"'
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_TARGET = re.compile(r"^(test|check|tests)\s*:", re.M)


class Cpp:
    language: str = "cpp"
    title: str = "C/C++"
    packages: tuple[str, ...] = ("g++", "make", "cmake", "libc6-dev", "pkgconf", "libgtest-dev", "libgmock-dev", "libboost-date-time-dev")
    image_env: dict[str, str] = {"CTEST_OUTPUT_ON_FAILURE": "1", "CMAKE_COLOR_DIAGNOSTICS": "OFF"}
    registry_dockerfile: str = "Dockerfile.cpp"
    image_warmup: str = ""
    image_warm: tuple[str, ...] = ()

    def plan(self, root: Path) -> ToolchainPlan:
        if (root / "CMakeLists.txt").is_file():
            return self._cmake(root)
        return self._make(root)

    def _cmake(self, root: Path) -> ToolchainPlan:
        lists = ["CMakeLists.txt", *sorted(p.relative_to(root).as_posix() for p in root.glob("*/CMakeLists.txt"))]
        lists += sorted(p.relative_to(root).as_posix() for p in root.glob("cmake/*.cmake"))
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(SetupStep("configure (CMake)", CONFIGURE), SetupStep("build", COMPILE, network=False)),
            test_command=f"{CONFIGURE} && {COMPILE} && {CTEST}",
            warm=(BUILD,),
            defining=read_defining(root, lists),
            decisions=("CMakeLists.txt: configured and built in the setup phase (FetchContent may fetch there); CTest runs the tests, its JUnit report read back",),
            version_command="cmake --version | head -n1 && g++ --version | head -n1",
        )

    def _make(self, root: Path) -> ToolchainPlan:
        name = next((n for n in MAKEFILES if (root / n).is_file()), "Makefile")
        text = hostfs.read_text(root, root / name, 1 << 20) or ""
        targets = [m.group(1) for m in _TARGET.finditer(text)]
        target = "test" if "test" in targets else (targets[0] if targets else "test")
        why = f"{name} has a `{target}` target" if targets else f"{name} names no test or check target; `make test` is tried"
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(),
            test_command=f"make {target}",
            defining=read_defining(root, [name]),
            decisions=(f"no CMakeLists.txt: make runs the tests ({why}); the exit code decides",),
            version_command="make --version | head -n1 && g++ --version | head -n1",
        )

"""Go, Rust and C/C++ projects for real: their language images, the setup phase with a dependency, the agent
phase offline, and test runs read into per-test results and compile errors with file:line."""

from __future__ import annotations


import docker.errors
import pytest

from loopwright.sandboxes.docker import DockerSandbox
from tests.langboxes import ensure_images, language_test, open_boxes, run
from tests.repos import make_repo

GO_FILES = {
    "go.mod": "module example.com/calc\n\ngo 1.22\n\nrequire example.com/greet v0.0.0\n\nreplace example.com/greet => ./greet\n",
    "greet/go.mod": "module example.com/greet\n\ngo 1.22\n",
    "greet/greet.go": 'package greet\n\nfunc Hello() string { return "hello" }\n',
    "calc.go": 'package calc\n\nimport "example.com/greet"\n\nfunc Add(a, b int) int { return a - b }\n\nfunc Greeting() string { return greet.Hello() }\n',
    "calc_test.go": (
        'package calc\n\nimport "testing"\n\n'
        'func TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Errorf("Add(2, 3) = %d, want 5", Add(2, 3))\n\t}\n}\n\n'
        'func TestGreeting(t *testing.T) {\n\tif Greeting() != "hello" {\n\t\tt.Fatal("no greeting")\n\t}\n}\n'
    ),
}
RUST_FILES = {
    "Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nhelper = { path = "helper" }\n',
    "helper/Cargo.toml": '[package]\nname = "helper"\nversion = "0.1.0"\nedition = "2021"\n',
    "helper/src/lib.rs": "pub fn twice(x: i32) -> i32 {\n    x * 2\n}\n",
    "src/lib.rs": (
        "pub fn add(a: i32, b: i32) -> i32 {\n    a - b\n}\n\npub fn double(x: i32) -> i32 {\n    helper::twice(x)\n}\n\n"
        "#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(2, 3), 5);\n    }\n\n"
        "    #[test]\n    fn doubles() {\n        assert_eq!(double(2), 4);\n    }\n}\n"
    ),
}
DEBIAN_CRATE_FILES = {
    "Cargo.toml": '[package]\nname = "finder"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmemchr = "2"\n',
    "src/lib.rs": (
        "pub fn first_comma(text: &str) -> Option<usize> {\n    memchr::memchr(b',', text.as_bytes())\n}\n\n"
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn finds() {\n        assert_eq!(super::first_comma(\"a,b\"), Some(1));\n    }\n\n"
        "    #[test]\n    fn finds_none() {\n        assert_eq!(super::first_comma(\"a,b\"), None);\n    }\n}\n"
    ),
}
CPP_FILES = {
    "CMakeLists.txt": (
        "cmake_minimum_required(VERSION 3.21)\nproject(calc CXX)\nset(CMAKE_CXX_STANDARD 17)\nadd_library(calc calc.cpp)\nenable_testing()\n"
        "find_package(GTest REQUIRED)\nadd_executable(calc_test calc_test.cpp)\ntarget_link_libraries(calc_test calc GTest::gtest_main)\n"
        "include(GoogleTest)\ngtest_discover_tests(calc_test)\n"
    ),
    "calc.h": "int add(int a, int b);\n",
    "calc.cpp": '#include "calc.h"\nint add(int a, int b) { return a - b; }\n',
    "calc_test.cpp": '#include <gtest/gtest.h>\n#include "calc.h"\nTEST(Calc, Adds) { EXPECT_EQ(add(2, 3), 5); }\nTEST(Calc, Zero) { EXPECT_EQ(add(0, 0), 0); }\n',
}
NO_NETWORK = "cat /sys/class/net/*/operstate 2>/dev/null | grep -c up; getent hosts deb.debian.org >/dev/null && echo resolved || echo unresolved"



@pytest.fixture(scope="session")
def language_images(docker_client):
    ensure_images(docker_client, ("go", "rust", "cpp"))


@pytest.fixture
def open_box(language_images, docker_client):
    yield from open_boxes(docker_client)


def offline(box: DockerSandbox) -> str:
    return box.exec(NO_NETWORK, timeout_s=30).output.split()


@language_test
def test_go_reports_a_failing_test_a_compile_error_and_uses_a_module_from_the_setup_phase(tmp_path, open_box):
    repo = make_repo(tmp_path / "go", GO_FILES)
    box = open_box(repo)
    report = box.setup_report
    assert report.language == "go" and report.kept and not report.failures
    assert "example.com/greet v0.0.0 => ./greet" in report.packages
    assert report.image.startswith("loopwright-env:")
    assert offline(box) == ["0", "unresolved"]

    failing = run(repo, box)
    assert failing.structured and not failing.passed
    assert failing.outcomes == {"example.com/calc/TestAdd": "failed", "example.com/calc/TestGreeting": "passed"}
    assert failing.failures[0].crash == "calc_test.go:7" and "Add(2, 3) = -1, want 5" in failing.failures[0].message

    (repo / "calc.go").write_text((repo / "calc.go").read_text().replace("return a - b", "return a - c"))
    broken = run(repo, box)
    assert broken.problem == "the build failed"
    assert [(e.location, e.message) for e in broken.build_errors] == [("calc.go:5:37", "undefined: c")]

    (repo / "calc.go").write_text(GO_FILES["calc.go"].replace("a - b", "a + b"))
    assert run(repo, box).passed


@language_test
def test_rust_reports_a_failing_test_a_compile_error_and_builds_a_path_dependency_in_the_setup_phase(tmp_path, open_box):
    repo = make_repo(tmp_path / "rust", RUST_FILES)
    box = open_box(repo)
    report = box.setup_report
    assert report.language == "rust" and not report.failures
    assert "helper v0.1.0 (/workspace/helper)" in report.packages
    assert [run.command for run in report.setup_commands][:2] == ["cargo fetch", "cargo test --no-run"]
    assert offline(box) == ["0", "unresolved"]
    # nothing came from crates.io: the Debian registry serves the agent phase, where a crate added resolves offline
    (repo / "Cargo.toml").write_text(RUST_FILES["Cargo.toml"] + 'memchr = "2"\n')
    (repo / "src/lib.rs").write_text("pub fn comma(text: &str) -> Option<usize> {\n    memchr::memchr(b',', text.as_bytes())\n}\n" + RUST_FILES["src/lib.rs"])
    assert "memchr v2." in box.exec("cargo tree --prefix none -e normal", timeout_s=120).output
    (repo / "src/lib.rs").write_text(RUST_FILES["src/lib.rs"])
    (repo / "Cargo.toml").write_text(RUST_FILES["Cargo.toml"])

    failing = run(repo, box)
    assert failing.outcomes == {"src/lib.rs::tests::adds": "failed", "src/lib.rs::tests::doubles": "passed"}
    assert failing.failures[0].crash == "src/lib.rs:15" and "left: -1" in failing.failures[0].message

    (repo / "src/lib.rs").write_text(RUST_FILES["src/lib.rs"].replace("a - b", 'a - "b"'))
    broken = run(repo, box)
    assert not broken.passed and broken.build_errors
    assert broken.build_errors[0].location == "src/lib.rs:2:7" and "[E0277]" in broken.build_errors[0].message


@language_test
def test_rust_without_crates_io_sets_up_from_the_images_debian_registry_and_the_agent_phase_uses_it(tmp_path, language_images, docker_client):
    from loopwright.sandboxes.image import DEFAULT_IMAGE
    from loopwright.sandboxes.langenv import prepare_language
    from loopwright.sandboxes.toolchains.registry import TOOLCHAINS
    from loopwright.sandboxes.toolchains.rust import CARGO_CONFIG

    repo = make_repo(tmp_path / "finder", DEBIAN_CRATE_FILES)

    def without_network(image: str):
        return docker_client.containers.run(image, ["sleep", "infinity"], detach=True, init=True, network_mode="none", user="0:0")

    image, report, temporary = prepare_language(
        docker_client, repo, TOOLCHAINS["rust"], image=DEFAULT_IMAGE, setup_commands=(), timeout_s=600, start=without_network,
        storage=2 << 30, session_id="debian-registry", progress=lambda line: None, fresh=True,
    )
    try:
        assert not report.failures and report.kept and not temporary and image.startswith("loopwright-env:")
        first, fallback, build, _ = report.setup_commands
        assert first.command == "cargo fetch" and not first.ok and "index.crates.io" in first.output_tail
        assert fallback.ok and fallback.command.endswith("&& cargo fetch") and build.ok
        assert any("served instead" in note and "Debian registry" in note for note in report.notes)
        assert any(package.startswith("memchr v2.") for package in report.packages)

        with DockerSandbox(repo, setup_timeout_s=600) as box:  # the environment just made, from the cache
            assert box.setup_report.image == image and box.setup_report.cached
            assert offline(box) == ["0", "unresolved"]
            assert "/usr/share/cargo/registry" in box.exec(f"cat {CARGO_CONFIG}", timeout_s=30).output
            tests = run(repo, box)
        assert tests.outcomes == {"src/lib.rs::tests::finds": "passed", "src/lib.rs::tests::finds_none": "failed"}
        assert not (repo / ".cargo").exists()
    finally:
        try:
            docker_client.images.remove(image, force=True)
        except docker.errors.ImageNotFound:
            pass


@language_test
def test_cpp_reads_ctest_junit_and_reports_a_compile_error_with_its_line(tmp_path, open_box):
    repo = make_repo(tmp_path / "cpp", CPP_FILES)
    box = open_box(repo)
    report = box.setup_report
    assert report.language == "cpp" and not report.failures and report.kept
    assert offline(box) == ["0", "unresolved"]

    failing = run(repo, box)
    assert failing.structured and failing.outcomes == {"Calc.Adds": "failed", "Calc.Zero": "passed"}
    assert failing.failures[0].crash == "calc_test.cpp:3" and "Which is: -1" in failing.failures[0].message

    (repo / "calc.cpp").write_text('#include "calc.h"\nint add(int a, int b) { return a - undefined_name; }\n')
    broken = run(repo, box)
    assert broken.problem == "the build failed"
    assert broken.build_errors[0].location == "calc.cpp:2:36" and "undefined_name" in broken.build_errors[0].message

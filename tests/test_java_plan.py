"""The Java toolchain's plan from a repository's files (Maven, the Gradle wrapper, or javac), the build's named
dependencies read as text, javac's and Maven's compile errors, and the Java exercises' layout."""

from __future__ import annotations

import json

from loopwright.bench.exercises import load_exercises
from loopwright.sandboxes.toolchains.java import DEBIAN_REPOSITORY, MIRROR_SETTINGS, Java
from loopwright.sandboxes.toolchains.javabuild import maven_mirror, named_dependencies
from loopwright.sandboxes.toolchains.registry import for_repository
from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.test_formats import reader_for, run_junit
from tests.repos import make_repo

POM = "<project><modelVersion>4.0.0</modelVersion><groupId>ex</groupId><artifactId>ex</artifactId><version>1</version></project>\n"
SOURCE = {"src/main/java/Calc.java": "public class Calc {}\n", "src/test/java/CalcTest.java": "class CalcTest {}\n"}


def test_a_maven_project_builds_in_the_setup_phase_and_runs_maven_offline(tmp_path):
    repo = make_repo(tmp_path / "repo", {"pom.xml": POM, "core/pom.xml": POM, **SOURCE})
    chain = for_repository(repo)
    assert isinstance(chain, Java)
    plan = chain.plan(repo)
    assert [step.network for step in plan.steps] == [True] and " test " in plan.steps[0].command
    assert " -o test " in plan.test_command and "LOOPWRIGHT_JUNIT" in plan.test_command
    assert reader_for(plan.test_command) is run_junit
    assert set(plan.defining) == {"pom.xml", "core/pom.xml"}


def test_a_gradle_wrapper_is_used_and_its_home_kept_for_the_agent_phase(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "build.gradle": "plugins { id 'java' }\n",
        "gradlew": "#!/bin/sh\n",
        "gradle/wrapper/gradle-wrapper.properties": "distributionUrl=https\\://example.com/gradle-8.5-bin.zip\n",
        **SOURCE,
    })
    plan = Java().plan(repo)
    assert "gradlew" in plan.steps[0].command and "--offline test --continue" in plan.test_command
    assert plan.warm == ("/tmp/loopwright-gradle",)
    assert "gradle/wrapper/gradle-wrapper.properties" in plan.defining


def test_gradle_without_a_wrapper_goes_the_javac_way_with_the_named_dependencies_from_debian(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "build.gradle": (
            'dependencies {\n    implementation "org.json:json:20190722"\n'
            "    testImplementation 'org.assertj:assertj-core:3.25.1'\n"
            '    testImplementation platform("org.junit:junit-bom:5.10.0")\n}\n'
            'description = "a:b:c is not a dependency"\n'
        ),
        **SOURCE,
    })
    plan = Java().plan(repo)
    assert plan.steps == () and "javac" in plan.test_command and "junit-platform-console-standalone" in plan.test_command
    assert f"{DEBIAN_REPOSITORY}/org/json/json/debian/*.jar" in plan.test_command
    assert "without a Gradle wrapper" in plan.decisions[0] and "org.json:json" in plan.decisions[0]


def test_named_dependencies_take_only_plain_names(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "build.gradle.kts": (
            'dependencies {\n    implementation("com.google.code.gson:gson:2.10.1")\n'
            '    implementation("evil;touch /tmp/x:name:1")\n    implementation("a/../b:c:1")\n'
            '    testImplementation("$(id):x:1")\n}\n'
        ),
    })
    assert named_dependencies(repo) == [("com.google.code.gson", "gson")]


def test_sources_outside_the_maven_layout_compile_with_their_tests(tmp_path):
    repo = make_repo(tmp_path / "repo", {"Calc.java": "public class Calc {}\n", "CalcTest.java": "class CalcTest {}\n"})
    plan = Java().plan(repo)
    assert "-name '*Test.java'" in plan.test_command and "outside Maven's layout" in plan.decisions[0]


def test_javac_and_maven_compile_errors_point_at_their_file_and_line():
    output = (
        "[ERROR] COMPILATION ERROR : \n[ERROR] /workspace/src/main/java/ex/Calc.java:[2,60] ';' expected\n"
        "[ERROR] Failed to execute goal ...: Compilation failure\n[ERROR] /workspace/src/main/java/ex/Calc.java:[2,60] ';' expected\n"
        "/workspace/src/main/java/Bowling.java:12: error: cannot find symbol\n"
        "    at ex.CalcTest.fails(CalcTest.java:6)\n"
    )
    errors = parse_build_errors(output)
    assert [(e.location, e.message) for e in errors] == [("src/main/java/ex/Calc.java:2:60", "';' expected"), ("src/main/java/Bowling.java:12", "cannot find symbol")]


def test_java_exercises_enable_every_test_and_put_each_reference_class_in_its_own_file(tmp_path):
    exercise = tmp_path / "java" / "exercises" / "practice" / "bowling"
    make_repo(exercise, {
        "build.gradle": 'dependencies {\n    testImplementation "org.assertj:assertj-core:3.25.1"\n}\n',
        "src/main/java/BowlingGame.java": "class BowlingGame {}\n",
        "src/test/java/BowlingGameTest.java": (
            "import org.junit.jupiter.api.Disabled;\nclass BowlingGameTest {\n    @Test\n    void first() {}\n\n"
            '    @Disabled("Remove to run test")\n    @Test\n    void second() {}\n\n    @Disabled\n    @Test\n    void third() {}\n}\n'
        ),
        ".meta/src/reference/java/BowlingGame.java": "class BowlingGame { Frame f; }\n",
        ".meta/src/reference/java/Frame.java": "class Frame {}\n",
        ".meta/config.json": json.dumps({"files": {
            "solution": ["src/main/java/BowlingGame.java"],
            "test": ["src/test/java/BowlingGameTest.java"],
            "example": [".meta/src/reference/java/BowlingGame.java", ".meta/src/reference/java/Frame.java"],
        }}),
    })
    [found] = load_exercises(tmp_path)
    assert found.language == "java" and not found.setup_phase and "javac" in found.test_command
    assert found.reference() == {"src/main/java/BowlingGame.java": "class BowlingGame { Frame f; }\n", "src/main/java/Frame.java": "class Frame {}\n"}
    work = tmp_path / "work"
    found.copy_to(work)
    tests = (work / "src/test/java/BowlingGameTest.java").read_text()
    assert "@Disabled" not in tests.replace("import org.junit.jupiter.api.Disabled;", "") and tests.count("@Test") == 3
    assert not (work / ".meta").exists()


def settings(tmp_path, mirrors: str):
    path = tmp_path / "settings.xml"
    path.write_text(f'<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"><mirrors>{mirrors}</mirrors></settings>\n')
    return path


def test_the_persons_maven_mirror_serves_the_setup_phase_without_its_credentials(tmp_path):
    repo = make_repo(tmp_path / "repo", {"pom.xml": POM, **SOURCE})
    path = settings(tmp_path, "<mirror><id>corp</id><mirrorOf>central</mirrorOf><url>https://repo.corp.example/maven/</url><username>me</username><password>secret</password></mirror>")
    assert maven_mirror(path)[0] == "https://repo.corp.example/maven/"
    plan = Java(settings=path).plan(repo)
    step = plan.steps[0].command
    assert "<url>https://repo.corp.example/maven/</url>" in step and "-s /tmp/loopwright-maven-settings.xml" in step
    assert "secret" not in step and "me" not in step.split("<url>")[0]
    assert MIRROR_SETTINGS not in plan.test_command  # the agent phase is offline: no mirror


def test_a_mirror_maven_would_not_use_for_central_or_an_odd_url_is_not_taken(tmp_path):
    assert maven_mirror(settings(tmp_path, "<mirror><mirrorOf>*,!central</mirrorOf><url>https://a.example/</url></mirror>")) == (None, "")
    assert maven_mirror(settings(tmp_path, "<mirror><mirrorOf>other</mirrorOf><url>https://a.example/</url></mirror>")) == (None, "")
    url, why = maven_mirror(settings(tmp_path, "<mirror><mirrorOf>*</mirrorOf><url>https://a.example/'; touch /tmp/x; '</url></mirror>"))
    assert url is None and "not a plain http(s) URL" in why
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]><settings><mirrors><mirror><mirrorOf>*</mirrorOf><url>&a;</url></mirror></mirrors></settings>')
    assert maven_mirror(bomb)[0] is None and "not valid XML" in maven_mirror(bomb)[1]
    assert maven_mirror(tmp_path / "missing.xml") == (None, "")


def test_the_javac_class_path_takes_the_named_jars_first_then_debian_s_but_junit_s_own(tmp_path, monkeypatch):
    import subprocess

    from loopwright.sandboxes.toolchains import java

    debian = tmp_path / "share"
    debian.mkdir()
    for name in ("guava.jar", "junit-jupiter-engine.jar", "junit-platform-launcher.jar", "opentest4j.jar"):
        (debian / name).write_text("")
    monkeypatch.setattr(java, "JARS", str(debian))
    (tmp_path / "a").mkdir()
    (tmp_path / "a/one.jar").write_text("")
    command = java.javac_command(extra=(str(tmp_path / "a"), str(tmp_path / "missing")))
    setup = command.split(" && ")[2]  # `{ cp=...; for ...; done; }`
    shown = subprocess.run(["sh", "-c", f'{setup} && printf %s "$cp"'], capture_output=True, text=True)
    entries = shown.stdout.split(":")
    assert shown.returncode == 0 and entries[3:] == [f"{tmp_path}/a/one.jar", f"{debian}/guava.jar"]


def test_a_pom_that_links_out_of_the_workspace_or_declares_entities_names_nothing(tmp_path):
    outside = tmp_path / "outside.xml"
    outside.write_text("<project><dependencies><dependency><groupId>secret</groupId><artifactId>host</artifactId></dependency></dependencies></project>\n")
    repo = make_repo(tmp_path / "repo", {"src/main/java/A.java": "class A {}\n"})
    (repo / "pom.xml").symlink_to(outside)
    (repo / "core").mkdir()
    (repo / "core/pom.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY g "org.lol">]><project><dependencies><dependency>'
        "<groupId>&g;</groupId><artifactId>lol</artifactId></dependency></dependencies></project>\n"
    )
    assert named_dependencies(repo) == []

"""Java projects for real: the Java image, Maven's setup phase resolving a dependency into the image's local
repository, the agent phase offline, Surefire's and the JUnit console launcher's reports read into per-test
results, and compile errors with file:line."""

from __future__ import annotations

import functools
import io
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.langboxes import ensure_images, language_test, open_boxes, run
from tests.repos import make_repo

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ex</groupId><artifactId>calc</artifactId><version>1.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies>
    <dependency><groupId>ex</groupId><artifactId>greeting</artifactId><version>1.0</version></dependency>
    <dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId><version>5.10.2</version><scope>test</scope></dependency>
  </dependencies>
</project>
"""
GREETING_POM = '<project><modelVersion>4.0.0</modelVersion><groupId>ex</groupId><artifactId>greeting</artifactId><version>1.0</version></project>\n'
CALC = """package ex;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

public class Calc {
    public static int add(int a, int b) { return a - b; }

    public static String greeting() throws IOException {
        try (InputStream in = Calc.class.getResourceAsStream("/greeting.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }
}
"""
CALC_TEST = """package ex;

import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;

class CalcTest {
    @Test
    void adds() {
        assertEquals(5, Calc.add(2, 3), "two and three");
    }

    @Test
    void greets() throws Exception {
        assertEquals("hello", Calc.greeting());
    }
}
"""
FLAT = {
    "Words.java": "public class Words {\n    public static String shout(String s) { return s.toLowerCase(); }\n}\n",
    "WordsTest.java": (
        "import org.junit.jupiter.api.Test;\nimport static org.assertj.core.api.Assertions.assertThat;\n\n"
        "class WordsTest {\n    @Test\n    void shouts() {\n        assertThat(Words.shout(\"hi\")).isEqualTo(\"HI\");\n    }\n\n"
        "    @Test\n    void keepsEmpty() {\n        assertThat(Words.shout(\"\")).isEmpty();\n    }\n}\n"
    ),
}
NO_NETWORK = "cat /sys/class/net/*/operstate 2>/dev/null | grep -c up; getent hosts deb.debian.org >/dev/null && echo resolved || echo unresolved"



def greeting_jar() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("greeting.txt", "hello\n")
    return data.getvalue()


@pytest.fixture(scope="session")
def java_image(docker_client):
    ensure_images(docker_client, ("java",))


@pytest.fixture
def open_box(java_image, docker_client):
    yield from open_boxes(docker_client)


@pytest.fixture
def maven_mirror(tmp_path, docker_client, monkeypatch):
    """A Maven repository served over HTTP on the Docker bridge, named as the mirror in the person's own settings."""
    folder = tmp_path / "mirror"
    (folder / "ex/greeting/1.0").mkdir(parents=True)
    (folder / "ex/greeting/1.0/greeting-1.0.pom").write_text(GREETING_POM)
    (folder / "ex/greeting/1.0/greeting-1.0.jar").write_bytes(greeting_jar())
    gateway = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    server = ThreadingHTTPServer((gateway, 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2/settings.xml").write_text(
        '<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"><mirrors><mirror><id>corp</id><mirrorOf>*</mirrorOf>'
        f"<url>http://{gateway}:{server.server_address[1]}/</url><username>me</username></mirror></mirrors></settings>\n"
    )
    monkeypatch.setenv("HOME", str(home))
    yield server
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, format: str, *args) -> None:
        QuietHandler.requested.append(self.path)


@language_test
def test_maven_fetches_through_the_mirror_in_the_setup_phase_and_reports_surefire_results_and_compile_errors_offline(tmp_path, open_box, maven_mirror):
    repo = make_repo(tmp_path / "calc", {"pom.xml": POM, "src/main/java/ex/Calc.java": CALC, "src/test/java/ex/CalcTest.java": CALC_TEST})
    box = open_box(repo)
    report = box.setup_report
    assert report.language == "java" and not report.failures and report.kept
    assert "/ex/greeting/1.0/greeting-1.0.jar" in QuietHandler.requested
    assert any("mirror your Maven settings name" in line for line in report.decisions)
    assert box.exec(NO_NETWORK, timeout_s=30).output.split() == ["0", "unresolved"]

    maven_mirror.shutdown()  # the agent phase has only what the setup phase fetched
    failing = run(repo, box)
    assert failing.structured and failing.outcomes == {"ex.CalcTest.adds": "failed", "ex.CalcTest.greets": "passed"}
    assert "two and three" in failing.failures[0].message and "expected: <5> but was: <-1>" in failing.failures[0].message
    assert failing.failures[0].crash == "CalcTest.java:9"

    (repo / "src/main/java/ex/Calc.java").write_text(CALC.replace("return a - b;", "return a - undefinedName;"))
    broken = run(repo, box)
    assert broken.problem == "the build failed" and not broken.outcomes
    assert broken.build_errors[0].location == "src/main/java/ex/Calc.java:8:54" and "cannot find symbol" in broken.build_errors[0].message

    (repo / "src/main/java/ex/Calc.java").write_text(CALC.replace("return a - b;", "return a + b;"))
    fixed = run(repo, box)
    assert fixed.passed and fixed.counts == {"passed": 2}


@language_test
def test_sources_without_a_build_run_with_javac_and_the_console_launcher(tmp_path, open_box):
    repo = make_repo(tmp_path / "words", FLAT)
    box = open_box(repo)
    assert box.setup_report.language == "java"
    failing = run(repo, box)
    assert failing.outcomes == {"WordsTest.shouts()": "failed", "WordsTest.keepsEmpty()": "passed"}
    assert 'expected: "HI"' in failing.failures[0].message.replace("\n", " ")
    assert not list(repo.glob("*.class"))  # compiled under /tmp, never into the workspace

    (repo / "Words.java").write_text(FLAT["Words.java"].replace("toLowerCase()", "toUpperCase("))
    broken = run(repo, box)
    assert broken.problem == "the build failed" and broken.build_errors[0].location == "Words.java:2"


@language_test
def test_a_maven_build_that_cannot_be_resolved_still_runs_its_tests_with_javac(tmp_path, open_box):
    pom = POM.replace(
        "  <dependencies>",
        "  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId>"
        "<version>0.0.0-nowhere</version></plugin></plugins></build>\n  <dependencies>",
    ).replace("<dependency><groupId>ex</groupId><artifactId>greeting</artifactId><version>1.0</version></dependency>", "")
    repo = make_repo(tmp_path / "calc", {
        "pom.xml": pom,
        "src/main/java/ex/Calc.java": "package ex;\n\npublic class Calc {\n    public static int add(int a, int b) { return a - b; }\n}\n",
        "src/test/java/ex/CalcTest.java": CALC_TEST.replace("Calc.greeting()", '"hello"'),
    })
    box = open_box(repo)
    report = box.setup_report
    assert report.failures and "0.0.0-nowhere" in report.failures[0].reason
    assert any("javac compiles" in line for line in report.decisions)
    failing = run(repo, box)
    assert failing.outcomes == {"ex.CalcTest.adds()": "failed", "ex.CalcTest.greets()": "passed"}
    assert "two and three" in failing.failures[0].message
    assert not (repo / "target").exists()


@language_test
def test_a_gradle_wrapper_that_cannot_fetch_its_distribution_leaves_the_tests_to_javac(tmp_path, open_box):
    repo = make_repo(tmp_path / "words", {
        "build.gradle": 'plugins { id "java" }\ndependencies {\n    testImplementation "org.assertj:assertj-core:3.25.1"\n}\n',
        "gradle/wrapper/gradle-wrapper.properties": "distributionUrl=https\\://services.gradle.org/distributions/gradle-8.5-bin.zip\n",
        # what the wrapper says where its distribution's server cannot be reached
        "gradlew": "#!/bin/sh\necho 'Downloading https://services.gradle.org/distributions/gradle-8.5-bin.zip'\necho 'Exception in thread \"main\" java.net.UnknownHostException: services.gradle.org' >&2\nexit 1\n",
        "src/main/java/Words.java": FLAT["Words.java"],
        "src/test/java/WordsTest.java": FLAT["WordsTest.java"],
    })
    box = open_box(repo)
    report = box.setup_report
    assert report.failures and "UnknownHostException" in report.failures[0].reason
    failing = run(repo, box)
    assert failing.outcomes == {"WordsTest.shouts()": "failed", "WordsTest.keepsEmpty()": "passed"}
    assert not (repo / "build").exists()

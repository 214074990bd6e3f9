"""Java: Maven (pom.xml), Gradle through the project's own wrapper (gradlew), or, with neither, the sources
compiled with javac and run by the JUnit Platform console launcher. Each writes JUnit XML (Surefire's reports,
Gradle's test results, the launcher's report), gathered into one file at `$LOOPWRIGHT_JUNIT` and read back by
tools/junit.py.

- Maven: the setup phase (network on) builds the tests, and so resolves the project's dependencies and plugins,
  into a local repository in the image (/opt/loopwright/m2); the agent phase runs `mvn -o`. Debian's Maven
  repository (/usr/share/maven-repo, the image's JUnit 5, JUnit 4, AssertJ, Hamcrest, Surefire and the default
  plugins) is a read-only tail of that repository (`maven.repo.local.tail`), so a project whose versions Debian
  ships needs nothing from the network, and one that pins others fetches them in the setup phase.
  When the person's own Maven settings (~/.m2/settings.xml) name a mirror of Maven Central (an in-house
  repository manager), the setup phase fetches through it, as Maven on their machine does; its credentials are
  never passed into the container, so only a mirror that needs none works there.
- Gradle: `./gradlew` fetches its distribution and the dependencies into a Gradle home under /tmp, kept for the
  agent phase like the other toolchains' build caches; the agent phase runs it `--offline`. Debian's own Gradle
  (4.4) is too old for today's builds, so a Gradle build without a wrapper goes the javac way.
  When Maven or Gradle cannot get what the build needs (a plugin, a parent, a distribution the network and
  Debian both lack), the tests still run the javac way, and the decisions say the build's own configuration is
  then not applied.
- javac: the main sources of every module's `src/main/java` (or every non-test source) compiled as one, then each
  module's `src/test/java` (or the `*Test.java` files) compiled and run in the module's folder, against the
  image's JUnit 5, JUnit 4 and AssertJ jars and the jars of the dependencies the build names that Debian's
  Maven repository has; all under /tmp, nothing written into the workspace.

Maven and Gradle write their build folders (target/, build/, .gradle/) into the workspace, as they do on a
developer's machine; earlier reports are removed before each run, so a report is never a stale one.

Public: `Java`, `javac_route`, `javac_command`, `gather_reports`, M2, DEBIAN_REPOSITORY.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from xml.sax.saxutils import escape

from loopwright.sandboxes.toolchains.base import HOME, SetupStep, ToolchainPlan, read_defining
from loopwright.sandboxes.toolchains.javabuild import GRADLE_FILES, maven_mirror, named_dependencies

M2 = f"{HOME}/m2"
DEBIAN_REPOSITORY = "/usr/share/maven-repo"
GRADLE_HOME = "/tmp/loopwright-gradle"
JARS = "/usr/share/java"
LAUNCHER = f"{JARS}/junit-platform-console-standalone.jar"
TEST_JARS = (f"{JARS}/assertj-core.jar", f"{JARS}/junit4.jar", f"{JARS}/hamcrest-core.jar")
"""First on the javac route's class path besides the launcher (which carries JUnit 5 and the JUnit 4 engine); the
jars of the dependencies the build names come next, then the rest of Debian's (`/usr/share/java`)."""
_LAUNCHER_OWN = "*/junit-platform-*|*/junit-jupiter*|*/junit-vintage*|*/junit5*|*/opentest4j*|*/apiguardian*|*/surefire*|*/common-junit*"
JUNIT_FILE = '"${LOOPWRIGHT_JUNIT:-/tmp/loopwright-junit.xml}"'
CLASSES = "/tmp/loopwright-classes"
MAVEN = f"mvn -B -ntp -Dmaven.repo.local={M2} -Dmaven.repo.local.tail={DEBIAN_REPOSITORY} -Dsurefire.exitTimeout=5 -Dstyle.color=never"
"""Every Maven call. `surefire.exitTimeout`: Debian's Surefire 2.22 otherwise waits 30 s for each forked test JVM to exit."""
GRADLE = "./gradlew --no-daemon --console=plain"
_SUREFIRE = "-path '*/target/surefire-reports/TEST-*.xml'"
_GRADLE_RESULTS = "-path '*/build/test-results/*/TEST-*.xml'"
_LAUNCHER_REPORTS = "-name 'TEST-*.xml'"
MIRROR_SETTINGS = "/tmp/loopwright-maven-settings.xml"
BUILD_READY = f"{HOME}/java-build-ready"
"""Left by the setup phase when Maven or Gradle got what the build needs; without it the tests run the javac way."""


def gather_reports(predicate: str, where: str = ".") -> str:
    """A shell command that joins every report file `find` matches into one document at $LOOPWRIGHT_JUNIT
    (each file's XML declaration dropped); nothing is written when there is none, so a build that never ran
    its tests leaves no report."""
    found = f"find {where} {predicate} -type f"
    return (
        f'if [ -n "$({found} -print -quit 2>/dev/null)" ]; then'
        f" {{ echo '<testsuites>'; {found} -print0 | xargs -0 sed -s '1s/^<?xml[^>]*>//'; echo '</testsuites>'; }} > {JUNIT_FILE}; fi"
    )


def _keeping_status(run: str, gather: str, clear: str) -> str:
    """`clear` old reports, `run`, gather the reports, and exit with `run`'s status."""
    return f"{clear}; {run}; status=$?; {gather}; exit $status"


_PRUNE = "-path '*/target' -prune -o -path '*/build' -prune -o -path '*/.gradle' -prune -o -path '*/node_modules' -prune -o"
STANDARD_MAIN = f"find . {_PRUNE} -path '*/src/main/java/*' -name '*.java' ! -name module-info.java -type f -print"
STANDARD_MODULES = f"find . {_PRUNE} -type d -path '*/src/test/java' -print | sed 's#/src/test/java$##'"
STANDARD_TESTS = "find \"$module/src/test/java\" -name '*.java' ! -name module-info.java -type f"
"""Maven's layout in every module: the main sources of all compile as one; each module's tests compile and run
on their own, in the module's folder (where Maven runs them, so paths relative to it resolve)."""


def javac_command(main: str = STANDARD_MAIN, modules: str = STANDARD_MODULES, tests: str = STANDARD_TESTS, extra: tuple[str, ...] = ()) -> str:
    """Compile the main sources the `find` command `main` lists under /tmp; then, for each folder `modules`
    lists, compile the tests `tests` lists there (it sees `$module`) and run them with the JUnit Platform console
    launcher in that folder, Maven's resource folders on the class path; the JUnit reports are gathered to
    $LOOPWRIGHT_JUNIT and the exit status is the worst. `extra`: folders whose jars join the class path (the
    build's dependencies in Debian's Maven repository; plain names, see named_dependencies)."""
    jars = "".join(f" {folder}/*.jar" for folder in extra)
    named = f'for jar in{jars}; do if [ -f "$jar" ]; then cp="$cp:$jar"; fi; done; ' if extra else ""
    # then every other jar Debian installed (what the named ones need in turn), but JUnit's own, which the
    # launcher carries: a second copy of an engine would make it refuse to start
    rest = f'for jar in {JARS}/*.jar; do case "$jar" in {_LAUNCHER_OWN}) ;; *) cp="$cp:$jar";; esac; done'
    path = f"cp={':'.join(TEST_JARS)}; {named}{rest}"
    flags = "-nowarn -encoding UTF-8"
    compile_main = f'sources=$({main} 2>/dev/null); {{ [ -z "$sources" ] || javac {flags} -d {CLASSES}/main -cp "$cp" $sources; }}'
    resources = f"res=$(find \"$PWD\" {_PRUNE} -type d -path '*/src/main/resources' -print | tr '\\n' ':')"
    launch = (
        f'(cd "$module" && java -jar {LAUNCHER} -cp "{CLASSES}/main:{CLASSES}/test/$n:$top/$module/src/test/resources:$res$cp"'
        f" --scan-classpath {CLASSES}/test/$n --reports-dir {CLASSES}/reports/$n --disable-banner --details=tree --details-theme=ascii)"
    )
    each = (
        f'n=$((n+1)); tests=$({tests} 2>/dev/null); [ -n "$tests" ] || continue; mkdir -p {CLASSES}/test/$n;'
        f' if javac {flags} -d {CLASSES}/test/$n -cp "{CLASSES}/main:{LAUNCHER}:$cp" $tests; then {launch} || status=$?; else status=1; fi'
    )
    return (
        f"rm -rf {CLASSES} && mkdir -p {CLASSES}/main && {{ {path}; }} && {compile_main} && {resources} && top=$PWD"
        f" && {modules} > {CLASSES}/modules && status=0 && n=0"
        f" && {{ while IFS= read -r module; do {each}; done < {CLASSES}/modules;"
        f" {gather_reports(_LAUNCHER_REPORTS, f'{CLASSES}/reports')}; exit $status; }}"
    )


class Java:
    language: str = "java"
    title: str = "Java"
    packages: tuple[str, ...] = (
        "default-jdk-headless", "maven", "junit5", "junit4", "libhamcrest-java", "libassertj-core-java",
        "libsurefire-java", "libmaven-compiler-plugin-java", "libmaven-resources-plugin-java", "libmaven-jar-plugin-java",
        "libandroid-json-org-java", "libmockito-java", "libjsonpath-java", "libcommons-io-java", "libcommons-text-java",
        "libcommons-lang3-java", "libguava-java", "libgoogle-gson-java", "libjackson2-databind-java", "libslf4j-java",
    )
    image_env: dict[str, str] = {"GRADLE_USER_HOME": GRADLE_HOME, "MAVEN_OPTS": "-Djava.awt.headless=true"}
    registry_dockerfile: str = "Dockerfile.java"
    image_warmup: str = ""
    image_warm: tuple[str, ...] = ()

    def __init__(self, settings: Path | None = None) -> None:
        self.settings = settings
        """The person's Maven settings, for their mirror; None for ~/.m2/settings.xml."""

    def plan(self, root: Path) -> ToolchainPlan:
        if (root / "pom.xml").is_file():
            return self._maven(root)
        gradle = [name for name in (*GRADLE_FILES, "settings.gradle", "settings.gradle.kts") if (root / name).is_file()]
        if gradle and (root / "gradlew").is_file() and (root / "gradle" / "wrapper" / "gradle-wrapper.properties").is_file():
            return self._gradle(root, gradle)
        why = f"{gradle[0]} without a Gradle wrapper (gradlew): Debian's Gradle 4.4 is too old for today's builds" if gradle else "no pom.xml or Gradle build"
        return self._javac(root, why)

    def _maven(self, root: Path) -> ToolchainPlan:
        poms = ["pom.xml", ".mvn/maven.config", ".mvn/extensions.xml", *sorted(p.relative_to(root).as_posix() for p in root.glob("*/pom.xml"))]
        poms += sorted(p.relative_to(root).as_posix() for p in root.glob("*/*/pom.xml"))
        # Builds the tests and starts Surefire on a test that matches nothing: its test provider is resolved too.
        mirror, why = maven_mirror(self.settings or Path.home() / ".m2" / "settings.xml")
        resolve = f"{MAVEN}{f' -s {MIRROR_SETTINGS}' if mirror else ''} test -Dtest=LoopwrightNoTest -DfailIfNoTests=false -Dsurefire.failIfNoSpecifiedTests=false"
        if mirror:
            # Named `central`: Maven records where each artifact came from, and the agent phase (offline, no mirror)
            # accepts only what came from a repository of its own build, central being one.
            document = f"<settings><mirrors><mirror><id>central</id><mirrorOf>*</mirrorOf><url>{escape(mirror)}</url></mirror></mirrors></settings>"
            resolve = f"printf %s {shlex.quote(document)} > {MIRROR_SETTINGS} && {resolve}"
        clear = "find . -type d -path '*/target/surefire-reports' -prune -exec rm -rf {} + 2>/dev/null"
        maven = _keeping_status(f"{MAVEN} -o test -fae", gather_reports(_SUREFIRE), clear)
        javac, layout, named = javac_route(root)
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(SetupStep("resolve and build (Maven)", _marking_ready(resolve, "COMPILATION ERROR")),),
            test_command=f"if [ -f {BUILD_READY} ]; then {maven}; else {javac}; fi",
            defining=read_defining(root, poms),
            decisions=(
                f"pom.xml: Maven builds the tests in the setup phase, fetching into {M2} what Debian's Maven repository lacks",
                *([why] if why else ()),
                "the agent phase runs Maven offline (mvn -o test); Surefire's reports are read back",
                _fallback(layout, named, "Maven"),
            ),
            version_command="mvn -v 2>/dev/null | head -n1 && java -version 2>&1 | head -n1",
            packages_command=f"find {M2} -name '*.jar' -printf '%P\\n' 2>/dev/null | sed 's#/[^/]*$##' | sort -u | head -n 2000",
        )

    def _gradle(self, root: Path, files: list[str]) -> ToolchainPlan:
        clear = "find . -type d -path '*/build/test-results' -prune -exec rm -rf {} + 2>/dev/null"
        defining = read_defining(root, [*files, "gradle/wrapper/gradle-wrapper.properties", "gradle.properties", "gradle/libs.versions.toml"])
        gradle = _keeping_status(f"{GRADLE} --offline test --continue", gather_reports(_GRADLE_RESULTS), clear)
        javac, layout, named = javac_route(root)
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(SetupStep("resolve and build (Gradle)", _marking_ready(f"chmod +x gradlew 2>/dev/null; {GRADLE} testClasses", "Compilation failed")),),
            test_command=f"if [ -f {BUILD_READY} ]; then {gradle}; else {javac}; fi",
            warm=(GRADLE_HOME,),
            defining=defining,
            decisions=(
                "gradlew: the project's Gradle wrapper fetches its distribution and the dependencies in the setup phase",
                "the agent phase runs Gradle offline (--offline test --continue); its test results are read back",
                _fallback(layout, named, "Gradle"),
            ),
            version_command="java -version 2>&1 | head -n1",
        )

    def _javac(self, root: Path, why: str) -> ToolchainPlan:
        command, layout, named = javac_route(root)
        found = f"; with the jars of the dependencies the build names, where Debian's Maven repository in the image has them ({', '.join(named)})" if named else ""
        return ToolchainPlan(
            language=self.language,
            title=self.title,
            steps=(),
            test_command=command,
            defining=read_defining(root, list(GRADLE_FILES)),
            decisions=(f"{why}: javac compiles {layout} against the image's JUnit 5, JUnit 4 and AssertJ, under /tmp; the JUnit console launcher runs them{found}",),
            version_command="java -version 2>&1 | head -n1",
        )


def _marking_ready(command: str, compile_failed: str) -> str:
    """`command`, leaving BUILD_READY when the build tool got everything it needs: it passed, or failed only in
    compiling (the project's own code, which the agent phase may fix), as its output says with `compile_failed`."""
    log = "/tmp/loopwright-build.log"
    return (
        f"{{ {command}; }} > {log} 2>&1; status=$?; cat {log};"
        f" if [ $status -eq 0 ] || grep -q {shlex.quote(compile_failed)} {log}; then touch {BUILD_READY}; fi; exit $status"
    )


def _fallback(layout: str, named: list[str], tool: str) -> str:
    with_named = f" (with the jars of the dependencies the build names, where Debian has them: {', '.join(named)})" if named else ""
    return (
        f"if {tool} could not fetch what the build needs, javac compiles {layout} against Debian's jars instead{with_named}"
        " and the JUnit console launcher runs them: the build's own configuration is then not applied"
    )


def javac_route(root: Path) -> tuple[str, str, list[str]]:
    """The javac route's test command for `root`, the layout it compiles (in words), and the dependencies the
    Gradle build names (`group:artifact`), put on the class path from Debian's Maven repository."""
    named = named_dependencies(root)
    extra = tuple(f"{DEBIAN_REPOSITORY}/{group.replace('.', '/')}/{artifact}/debian" for group, artifact in named)
    names = [f"{group}:{artifact}" for group, artifact in named]
    if any(root.glob("src/*/java")) or any(root.glob("*/src/*/java")):
        return javac_command(extra=extra), "src/main/java and src/test/java (of every module)", names
    main = f"find . {_PRUNE} -name '*.java' ! -name '*Test.java' ! -name '*Tests.java' -type f -print"
    tests = f"find . {_PRUNE} \\( -name '*Test.java' -o -name '*Tests.java' \\) -type f -print"
    return javac_command(main, "echo .", tests, extra), "the sources outside Maven's layout (*Test.java are the tests)", names

# The loopwright Java sandbox image for machines that can pull from a registry:
#   docker build -t loopwright-sandbox:java - < Dockerfile.java
# It follows the same conventions as the offline image (`loopwright sandbox build --language java`): python3 for
# the command runner, the workspace at /workspace, git trusting the bind-mounted repository, the label saying
# its language, Maven with Debian's (here Ubuntu's) Maven repository and JUnit, AssertJ and Hamcrest jars under
# /usr/share/java for the javac route, and the environment of sandboxes/toolchains/java.py.
FROM eclipse-temurin:21-jdk
LABEL loopwright.language=java

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 git ca-certificates procps maven junit5 junit4 \
       libhamcrest-java libassertj-core-java libsurefire-java libmaven-compiler-plugin-java \
       libmaven-resources-plugin-java libmaven-jar-plugin-java \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system safe.directory '*' \
    && mkdir -p /workspace /opt/loopwright

ENV LANG=C.UTF-8 \
    GRADLE_USER_HOME=/tmp/loopwright-gradle \
    MAVEN_OPTS=-Djava.awt.headless=true \
    JAVA_TOOL_OPTIONS=-Xss4m

WORKDIR /workspace
CMD ["sleep", "infinity"]

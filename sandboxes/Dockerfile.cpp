# The loopwright C/C++ sandbox image for machines that can pull from a registry:
#   docker build -t loopwright-sandbox:cpp - < Dockerfile.cpp
# Same conventions as the offline image (`loopwright sandbox build --language cpp`) and the environment of
# sandboxes/toolchains/cpp.py: CMake 3.21 or newer (CTest's JUnit output), GoogleTest, make.
FROM gcc:14-bookworm
LABEL loopwright.language=cpp

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 git ca-certificates procps cmake make pkgconf libgtest-dev libgmock-dev libboost-date-time-dev \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system safe.directory '*' \
    && mkdir -p /workspace /opt/loopwright \
    && cmake --version | head -n1

ENV LANG=C.UTF-8 \
    CTEST_OUTPUT_ON_FAILURE=1 \
    CMAKE_COLOR_DIAGNOSTICS=OFF

WORKDIR /workspace
CMD ["sleep", "infinity"]

"""What part a file plays in its tree, from its path: the code itself, or its tests, fixtures and generated files.

Tests and fixtures reference the code and are rarely what a task is about; in some trees they outnumber it
(hundreds of tiny functional-test modules, thousands of fixture files), and each of them defines the very
names the task mentions. The ranking puts them below the code unless the query points at them.
"""

from __future__ import annotations

import re

import numpy as np

_TEST_DIRS = "tests?|testing|__tests__|specs?|e2e|fixtures?|testdata|test_data|test_files|test-data|test_utils"
_SECONDARY = re.compile(
    rf"(?:^|/)(?:{_TEST_DIRS})/"  # anything under a test or fixture folder
    r"|(?:^|/)(?:test_[^/]*|[^/]*_tests?\.[^/.]+|conftest\.py|[^/]*\.(?:test|spec)\.[jt]sx?)$"  # test modules
    r"|(?:^|/)[^/]*(?:_pb2(?:_grpc)?\.pyi?|\.min\.[jc]ss?|\.generated\.[^/]+|\.g\.dart|\.lock|-lock\.json|\.snap)$"  # generated
    r"|(?:^|/)(?:vendor|third_party|_vendor)/",
    re.IGNORECASE,
)


def is_secondary(path: str) -> bool:
    """A test, a fixture, or a generated or vendored file (a repository-relative POSIX path)."""
    return _SECONDARY.search(path) is not None


def secondary_mask(paths: list[str]) -> np.ndarray:
    return np.fromiter((is_secondary(path) for path in paths), dtype=bool, count=len(paths))

"""The edits benchmark's own judgement: which requests do not determine their result."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "edits.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("edits_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def without(ops, index):
    return [op for k, op in enumerate(ops) if k != index]


def test_a_blank_line_dropped_next_to_added_lines_fits_two_diffs(bench):
    truth = [(" ", "a = 1"), (" ", ""), ("+", "b = 2"), (" ", "c = 3")]
    assert bench.blank_slip_undecidable(truth, without(truth, 1))
    # The same request from the other diff: the blank line after the added line.
    other = [(" ", "a = 1"), ("+", "b = 2"), (" ", ""), (" ", "c = 3")]
    assert bench.sides(without(other, 2)) == bench.sides(without(truth, 1))


def test_a_blank_line_dropped_between_unchanged_lines_fits_one(bench):
    truth = [(" ", "a = 1"), (" ", ""), (" ", "b = 2"), ("+", "x = 0"), (" ", "c = 3")]
    assert not bench.blank_slip_undecidable(truth, without(truth, 1))


def test_an_extra_blank_line_next_to_added_lines_fits_one_when_the_new_text_has_no_other(bench):
    truth = [(" ", "a = 1"), ("+", "x = 0"), (" ", "b = 2")]
    slipped = truth[:1] + [(" ", "")] + truth[1:]
    assert not bench.blank_slip_undecidable(truth, slipped)


def test_an_extra_blank_line_among_added_blank_lines_fits_two(bench):
    truth = [(" ", "import a"), (" ", ""), ("+", "log = 1"), ("+", ""), ("+", ""), (" ", "X = 1")]
    slipped = truth[:1] + [(" ", "")] + truth[1:]
    assert bench.blank_slip_undecidable(truth, slipped)


def test_repeated_old_text_is_judged_where_the_change_may_be(bench):
    before = "x = 1\ny = 1\nx = 1\nz = 1\n"
    first = [(" ", "x = 1"), ("-", "y = 1"), ("+", "y = 2")]
    case = bench.Case("t", "t.py", before, "x = 1\ny = 2\nx = 1\nz = 1\n", [first], [1], False)
    assert not bench.repeated_old_text(case)  # "x = 1\ny = 1\n" occurs once
    lone = [("-", "x = 1"), ("+", "x = 2")]
    case = bench.Case("t", "t.py", before, "x = 2\ny = 1\nx = 1\nz = 1\n", [lone], [1], False)
    assert bench.repeated_old_text(case)
    # A search/replace block is judged between its neighbours: with a block after it at `x = 1` (line 3), the
    # room for the first one holds a single `x = 1`.
    second = [("-", "x = 1"), ("+", "x = 3")]
    case = bench.Case("t", "t.py", before, "x = 2\ny = 1\nx = 3\nz = 1\n", [lone, second], [1, 3], False)
    assert bench.repeated_old_text(case) and not bench.repeated_between_neighbours(case)

"""The outer loop's hard wall-clock guard: a step that hangs still ends, so the run still replies."""

from __future__ import annotations

import threading

import pytest

from loopwright.github.runner import HardDeadline, hard_deadline


def test_the_hard_deadline_interrupts_a_step_that_hangs():
    with pytest.raises(HardDeadline):
        with hard_deadline(0.2) as deadline:
            threading.Event().wait(60)
    assert deadline.fired


def test_the_guard_is_disarmed_after_a_run_that_ends_in_time():
    with hard_deadline(0.2) as deadline:
        pass
    threading.Event().wait(0.4)
    assert not deadline.fired

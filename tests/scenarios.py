"""Scripted sessions that drive the real loop."""

from __future__ import annotations

from loopwright.models.scripted import Turn, call

WRONG_THEN_RIGHT = [
    call("read_file", path="calc.py"),
    call("run_tests"),
    Turn(text="add() subtracts; I'll change the operator.", calls=(("edit_file", {"path": "calc.py", "old_string": "return a - b", "new_string": "return a * b"}),)),
    call("run_tests"),
    call("edit_file", path="calc.py", old_string="return a * b\n\n\ndef mul", new_string="return a + b\n\n\ndef mul"),
    call("run_tests"),
    call("submit", summary="add() now adds"),
]

"""Prompt templates are Jinja2 files shipped in loopwright.prompts; a missing variable is an error."""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(lambda name: resources.files("loopwright.prompts").joinpath(name).read_text(encoding="utf-8"))
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


def render(name: str, **values: object) -> str:
    return _environment().get_template(name).render(**values).strip()

"""The one console loopwright prints through: whatever it renders, control characters are shown, never obeyed.

Model text, tool arguments, command output, file names and replayed trajectories all reach the person
through rich. Sanitizing at the console, rather than at each call site, covers every renderable (plain
strings, diffs, tables, rules) and every call site to come. Rich markup in untrusted text is a separate
matter: callers pass such text through `rich.markup.escape` or as `Text`, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from loopwright.visible import visible


class TerminalConsole(Console):
    def __init__(self, **options: Any) -> None:
        # `:name:` emoji codes in untrusted text would otherwise turn into pictures.
        options.setdefault("emoji", False)
        super().__init__(**options)

    def render_str(self, text: str, **options: Any) -> Text:
        # Before rich lays the text out, so the escapes are measured (and rich does not drop `\r`).
        return super().render_str(visible(text), **options)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        # Every segment of text, whichever renderable made it; rich's own control segments pass.
        for segment in super().render(renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)

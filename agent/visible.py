"""Characters that act or hide instead of showing, and how text from the sandbox or the model is shown safely.

A terminal obeys control characters (escape sequences move the cursor, set the title, write the
clipboard), bidi controls reorder what a reader sees, and zero-width and other format characters hide
text. Wherever loopwright shows such text to a person, these characters are written out as escapes
(`\\x1b`, `\\u202e`) instead, so the person sees exactly what was there.
"""

from __future__ import annotations

import unicodedata

_BLANK_LOOKING = "\u180e\u2800\u3164\uffa0"
"""Characters of other categories that render as nothing, used to hide text."""


def is_hidden(char: str) -> bool:
    """Control, format (zero-width, bidi), private-use and surrogate characters, line and paragraph
    separators, and blank-looking fillers; newline and tab are ordinary text."""
    if char in "\n\t":
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") or char in _BLANK_LOOKING


def visible(text: str) -> str:
    """`text` with every hidden character written as its Python escape; line breaks and tabs kept.

    Idempotent: the escapes are plain ASCII, so showing shown text changes nothing.
    """
    if text.isprintable():
        return text
    text = text.replace("\r\n", "\n")
    return "".join(_escape(char) if is_hidden(char) else char for char in text)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")

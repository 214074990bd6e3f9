"""Comment text made safe to hand to a model: what a reader of the comment cannot see does not reach the model.

Hidden channels removed: HTML comments, invisible and bidi-control characters, HTML tags, and the
URL payloads of markdown images and links (an image URL can carry instructions or exfiltrate data
when rendered; a link's visible text is kept, its target dropped).
"""

from __future__ import annotations

import re
import unicodedata

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REFERENCE_IMAGE = re.compile(r"!\[([^\]]*)\]\[[^\]]*\]")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_HTML_ELEMENTS = "a|abbr|b|blockquote|br|code|dd|del|details|div|dl|dt|em|font|h[1-6]|hr|i|ins|kbd|li|ol|p|picture|pre|q|s|samp|source|span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video"
# Only real HTML elements: `Vec<String>` in a request is code, not markup.
_TAG = re.compile(rf"</?(?:{_HTML_ELEMENTS})\b(?:\s[^<>]*)?/?>", re.I)
_BLANK_RUNS = re.compile(r"\n{3,}")


def is_hidden(char: str) -> bool:
    """Zero-width, bidi-control, tag and other format characters, and control characters except newline and tab."""
    if char in "\n\t":
        return False
    category = unicodedata.category(char)
    return category in ("Cf", "Cc", "Co", "Cs") or char in "\u180e\u2800\u3164\uffa0"


def strip_hidden(text: str) -> str:
    return "".join(ch for ch in text if not is_hidden(ch))


def strip_markup(text: str) -> str:
    """Remove HTML comments, images, link targets and HTML tags; keep the text a reader sees."""
    text = _HTML_COMMENT.sub("", text)
    text = _IMG_TAG.sub("", text)
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1).strip()}]" if m.group(1).strip() else "", text)
    text = _REFERENCE_IMAGE.sub(lambda m: f"[image: {m.group(1).strip()}]" if m.group(1).strip() else "", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _REFERENCE_DEFINITION.sub("", text)
    return _TAG.sub("", text)


def sanitize(text: str) -> str:
    """The visible text of a markdown comment, normalized (CRLF to LF, no runs of blank lines)."""
    text = strip_hidden(text.replace("\r\n", "\n").replace("\r", "\n"))
    # Stripping again after markup removal catches characters that were split by a tag.
    text = strip_hidden(strip_markup(text))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def request_after_trigger(body: str, trigger: str) -> str | None:
    """The request when the sanitized comment starts with `trigger` (as a whole word); None otherwise."""
    visible = sanitize(body)
    if not trigger or not visible.lower().startswith(trigger.lower()):
        return None
    rest = visible[len(trigger) :]
    if rest and not (rest[0].isspace() or rest[0] in ",:;"):
        return None
    return rest.lstrip(",:; \t\n").strip()


def fence(text: str, info: str = "") -> str:
    """A code block that no backtick run inside `text` can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"

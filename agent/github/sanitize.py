"""Markdown crossing between GitHub and loopwright, made safe in both directions.

Coming in, a comment is reduced to what its reader sees before it reaches the model. Hidden channels
removed: HTML comments, invisible and bidi-control characters, HTML tags, and the URL payloads of
markdown images and links (an image URL can carry instructions or exfiltrate data when rendered; a
link's visible text is kept, its target dropped).

Going out, text the model or the sandbox wrote is posted so that it renders as exactly that text: in a
code block or code span it cannot close, or escaped so that it makes no image, link, HTML, mention or
cross-reference (see `inert`).
"""

from __future__ import annotations

import re

from loopwright.visible import is_hidden, visible

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
    """The request when the comment starts with `trigger` as written (a whole word, any case); None otherwise.

    Only what markdown shows as nothing may come before the phrase: blank lines and up to three spaces
    (four would make a code block). Any other character before or inside it, an invisible one, an HTML
    comment or markup included, means the phrase does not start the comment. The request after it is
    the sanitized rest.
    """
    if not trigger:
        return None
    body = body.replace("\r\n", "\n")
    before = _BEFORE_TRIGGER.match(body)
    start = before.end() if before else 0
    end = start + len(trigger)
    if body[start:end].lower() != trigger.lower():
        return None
    rest = body[end:]
    if rest and not ((rest[0].isspace() and not is_hidden(rest[0])) or rest[0] in ",:;"):
        return None
    return sanitize(rest).lstrip(",:; \t\n").strip()


_BEFORE_TRIGGER = re.compile(r"(?:[ \t]*\n)*[ ]{0,3}")


# -- going out ----------------------------------------------------------------------------------------


class Markdown(str):
    """Text ready to post: our own markdown, or untrusted text already made safe by a function below."""


def fence(text: str, info: str = "") -> str:
    """A code block that no backtick run inside `text` can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def code_block(text: str, info: str = "") -> Markdown:
    """Untrusted text as a code block, its hidden characters shown as escapes."""
    return Markdown(fence(visible(text), info))


def code_span(text: str, *, in_table: bool = False) -> Markdown:
    """Untrusted text as inline code on one line, delimited by more backticks than any run inside it."""
    text = " ".join(visible(text).split("\n"))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    # CommonMark strips one space from each end when both have one; a backtick at an end needs a space.
    padded = f" {text} " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else text or " "
    if in_table:
        # A table cell ends at `|` even inside code; the escape is shown as `|`.
        padded = padded.replace("|", "\\|")
    return Markdown(f"{ticks}{padded}{ticks}")


def inert(text: str, *, in_table: bool = False) -> Markdown:
    """Untrusted text as markdown that shows exactly that text, line breaks kept.

    Every word that GitHub would turn into a link, a mention (a notification) or a cross-reference
    (a URL, anything with `@`, `#123`) becomes inline code; elsewhere the characters that start
    markup (images, links, HTML and comments, entities, emphasis, tables, math) are backslash-escaped.
    Hidden characters are shown as escapes.
    """
    lines = []
    for line in visible(text).split("\n"):
        words = re.split(r"(\s+)", line)
        lines.append("".join(_inert_word(word, in_table) if index % 2 == 0 else word for index, word in enumerate(words)))
    return Markdown("\n".join(lines))


def _inert_word(word: str, in_table: bool) -> str:
    if _LIVE_WORD.search(word):
        return code_span(word, in_table=in_table)
    return _MARKUP_CHAR.sub(r"\\\g<0>", word)


_LIVE_WORD = re.compile(r"://|www\.|@|#\d|\b(?:mailto|xmpp):", re.I)
_MARKUP_CHAR = re.compile(r"[\\`*_~\[\]<>&|$]")

"""Each matching stage on its own, and the refusals when a match is not unique or not found."""

from __future__ import annotations

import pytest
from loopwright.tools.editing import EditRefused, FileEdit, Hunk, edit_text
from loopwright.tools.editing.textfile import parse, to_bytes

SOURCE = (
    "import os\n"
    "\n"
    "\n"
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
    "\n"
    "\n"
    "def mean(items):\n"
    "    if not items:\n"
    "        return 0\n"
    "    return total(items) / len(items)\n"
)


def apply(source: str, *hunks: Hunk, name: str = "m.py") -> tuple[str, list[str]]:
    after, stages = edit_text(name, parse(source.encode(), name), FileEdit(name, hunks))
    return to_bytes(after).decode(), stages


def test_exact_match_replaces_only_that_text():
    out, stages = apply(SOURCE, Hunk("        result += item\n", "        result += item * 2\n"))
    assert stages == ["exact"]
    assert out == SOURCE.replace("result += item\n", "result += item * 2\n")


def test_trailing_whitespace_in_the_old_text_is_tolerated_and_not_written():
    old = "    for item in items:   \n        result += item  \n"
    new = "    for item in items:   \n        result -= item  \n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["trailing-whitespace"]
    assert out == SOURCE.replace("result += item", "result -= item")


def test_indentation_shift_is_undone_on_the_new_lines():
    old = "if not items:\n    return 0\n"
    new = "if not items:\n    raise ValueError('empty')\n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["indentation"]
    assert "    if not items:\n        raise ValueError('empty')\n" in out


def test_extra_indentation_in_the_old_text_is_removed_from_the_new():
    old = "            result += item\n        return result\n"
    new = "            result += item\n        return int(result)\n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["indentation"]
    assert "        result += item\n    return int(result)\n" in out


def test_missing_blank_line_between_unchanged_lines_is_tolerated():
    old = "    return result\n\ndef mean(items):\n    if not items:\n"
    new = "    return result\n\ndef mean(items):\n    if items is None or not items:\n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["blank-lines"]
    assert out == SOURCE.replace("    if not items:", "    if items is None or not items:")


def test_elided_lines_stay_untouched():
    old = "def total(items):\n...\n    return result\n"
    new = "def total(values):\n...\n    return result\n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["elision", "elision"]
    assert out == SOURCE.replace("def total(items)", "def total(values)")


def test_anchored_match_tolerates_a_typo_in_the_middle():
    old = "def total(items):\n    result = 0\n    for itm in items:\n        result += item\n    return result\n"
    new = "def total(items):\n    result = 0\n    for itm in items:\n        result += item\n    return result or None\n"
    out, stages = apply(SOURCE, Hunk(old, new))
    assert stages == ["anchored"]
    assert out == SOURCE.replace("    return result\n", "    return result or None\n")


def test_several_matches_are_refused_with_their_lines():
    source = "a = 1\nb = 2\n\na = 1\nb = 2\n"
    with pytest.raises(EditRefused, match=r"matches 2 places \(lines 1-2, 4-5\)"):
        apply(source, Hunk("a = 1\nb = 2\n", "a = 3\nb = 2\n"))


def test_substring_occurring_several_times_is_refused_with_its_lines():
    with pytest.raises(EditRefused, match=r"occurs 3 times \(at lines 5, 7, 8\)"):
        apply(SOURCE, Hunk("result", "total", whole_lines=False))


def test_no_match_names_the_closest_region():
    old = "def mean(items):\n    if not items:\n        return None\n    return sum(items) / len(items)\n"
    with pytest.raises(EditRefused, match=r"did you mean lines 11-14"):
        apply(SOURCE, Hunk(old, "x\n"))


def test_nothing_alike_is_refused():
    with pytest.raises(EditRefused, match="not found"):
        apply(SOURCE, Hunk("class Nowhere:\n    pass\n", "x\n"))


def test_blank_line_count_unclear_next_to_new_lines_is_refused():
    # The file has two blank lines before `def mean`, the old text one; new lines go into that gap.
    old = "    return result\n\ndef mean(items):\n"
    new = "    return result\n\nCONSTANT = 1\n\ndef mean(items):\n"
    with pytest.raises(EditRefused, match="unclear"):
        apply(SOURCE, Hunk(old, new))


def test_line_number_hint_picks_among_duplicates_only_when_confirmed():
    source = "x = 1\n\nfirst = 1\n\nx = 1\n\nsecond = 2\n"
    confirmed = (Hunk("first = 1\n", "first = 10\n", at_line=3), Hunk("x = 1\n", "x = 2\n", at_line=5))
    out, _ = apply(source, *confirmed)
    assert out == "x = 1\n\nfirst = 10\n\nx = 2\n\nsecond = 2\n"
    with pytest.raises(EditRefused, match="matches 2 places"):
        apply(source, Hunk("x = 1\n", "x = 2\n", at_line=5))


def test_overlapping_hunks_are_refused():
    with pytest.raises(EditRefused, match="overlap"):
        apply(SOURCE, Hunk("    result = 0\n    for item in items:\n", "x\n"), Hunk("    for item in items:\n        result += item\n", "y\n"))


def test_insert_at_line_and_append():
    out, _ = apply("a\nb", Hunk("", "x\n", at_line=2), Hunk("", "z\n", at_line=3))
    assert out == "a\nx\nb\nz"
    with pytest.raises(EditRefused, match="outside the file"):
        apply("a\nb\n", Hunk("", "x\n", at_line=9))


def test_extra_blank_lines_in_the_old_text_are_fine_when_the_new_lines_keep_to_one_side():
    source = "x = 1\n\ny = 2\n"
    out, _ = apply(source, Hunk("x = 1\n\n\ny = 2\n", "x = 1\n\n\nz = 3\ny = 2\n"))
    assert out == "x = 1\n\nz = 3\ny = 2\n"
    with pytest.raises(EditRefused, match="unclear"):
        apply(source, Hunk("x = 1\n\n\ny = 2\n", "x = 1\n\nz = 3\n\ny = 2\n"))


TWINS = (
    "def a():\n"
    "    x = 1\n"
    "    return x\n"
    "\n"
    "\n"
    "def b():\n"
    "    x = 1\n"
    "    return x\n"
    "\n"
    "\n"
    "def c():\n"
    "    x = 1\n"
    "    return x\n"
)
TWIN = "    x = 1\n    return x\n"


def test_an_ambiguous_block_is_placed_between_its_neighbours_in_file_order():
    out, _ = apply(TWINS, Hunk("def b():\n", "def b2():\n"), Hunk(TWIN, "    x = 2\n    return x\n"), Hunk("def c():\n", "def c2():\n"))
    assert out == TWINS.replace("def b():\n" + TWIN, "def b2():\n    x = 2\n    return x\n").replace("def c()", "def c2()")


def test_order_places_an_ambiguous_block_after_the_last_placed_one():
    out, _ = apply(TWINS, Hunk("def b():\n", "def b3():\n"), Hunk("def c():\n", "def c3():\n"), Hunk(TWIN, "    x = 3\n    return x\n"))
    assert out == TWINS.replace("def b()", "def b3()").replace("def c():\n" + TWIN, "def c3():\n    x = 3\n    return x\n")


def test_one_placed_block_is_not_enough_to_trust_the_order():
    with pytest.raises(EditRefused, match="matches 3 places"):
        apply(TWINS, Hunk("def c():\n", "def c3():\n"), Hunk(TWIN, "    x = 3\n    return x\n"))


def test_ambiguity_that_order_leaves_open_is_still_refused():
    # Between `def a()` and `END` the old text still fits in b and in c.
    hunks = (Hunk("def a():\n    x = 1\n", "def a():\n    x = 0\n"), Hunk(TWIN, "    x = 2\n    return x\n"), Hunk("END = 1\n", "END = 2\n"))
    with pytest.raises(EditRefused, match=r"edit 2 of 3: the old text matches 3 places"):
        apply(TWINS + "\n\nEND = 1\n", *hunks)


def test_order_is_not_trusted_when_the_placed_blocks_are_out_of_order():
    with pytest.raises(EditRefused, match="matches 3 places"):
        apply(TWINS, Hunk("def c():\n", "def c2():\n"), Hunk("def a():\n", "def a2():\n"), Hunk(TWIN, "    x = 2\n    return x\n"))


def test_a_str_replace_call_on_its_own_still_refuses_duplicates():
    with pytest.raises(EditRefused, match="occurs 3 times"):
        apply(TWINS, Hunk(TWIN, "    x = 2\n    return x\n", whole_lines=False))


def test_diff_hunks_with_wrong_numbers_are_placed_in_order():
    hunks = (Hunk("def b():\n", "def b2():\n", at_line=40), Hunk(TWIN, "    x = 2\n    return x\n", at_line=90), Hunk("def c():\n", "def c2():\n", at_line=150))
    out, _ = apply(TWINS, *hunks)
    assert out == TWINS.replace("def b():\n" + TWIN, "def b2():\n    x = 2\n    return x\n").replace("def c()", "def c2()")


CONFIG = "import os\n\nLIMIT = 10\nNAME = 'x'\n"


def test_a_line_rewritten_in_place_keeps_the_blank_line_the_old_text_left_out():
    out, stages = apply(CONFIG, Hunk("import os\nLIMIT = 10\nNAME = 'x'\n", "import os\nLIMIT = 20\nNAME = 'x'\n"))
    assert stages == ["blank-lines"]
    assert out == "import os\n\nLIMIT = 20\nNAME = 'x'\n"


def test_new_lines_that_are_not_a_rewrite_next_to_a_missing_blank_line_are_refused():
    # `import sys` may belong before or after the blank line the old text left out.
    with pytest.raises(EditRefused, match="unclear"):
        apply(CONFIG, Hunk("import os\nLIMIT = 10\n", "import os\nimport sys\nLIMIT = 20\n"))


def test_deleting_next_to_a_missing_blank_line_keeps_that_blank_line():
    # Only the lines the old text names are removed; the blank line it left out is not one of them.
    out, stages = apply(CONFIG, Hunk("import os\nLIMIT = 10\nNAME = 'x'\n", "import os\nNAME = 'x'\n"))
    assert stages == ["blank-lines"]
    assert out == "import os\n\nNAME = 'x'\n"


def test_blank_lines_at_the_end_of_the_old_text_are_matched_to_the_files():
    # The old text ends in three blank lines where the file has two; the new lines go after its first one.
    source = "KEYS = {\n    'a',\n    'b',\n    'c',\n}\n\n\ndef f():\n    pass\n"
    old = "    'a',\n    'b',\n    'c',\n}\n\n\n\n"
    new = "    'a',\n    'b',\n    'c',\n}\n\nMORE = {\n    'd',\n}\n\n\n\n"
    out, _ = apply(source, Hunk(old, new))
    assert out == "KEYS = {\n    'a',\n    'b',\n    'c',\n}\n\nMORE = {\n    'd',\n}\n\n\ndef f():\n    pass\n"


def test_an_extra_blank_line_in_the_old_text_next_to_a_rewrite_is_dropped():
    # The old text has a blank line after `a` that the file lacks; `b` becomes `c` in place, nothing else moves.
    out, stages = apply("a = 1\nb = 2\nd = 4\n", Hunk("a = 1\n\nb = 2\nd = 4\n", "a = 1\n\nc = 3\nd = 4\n"))
    assert stages == ["blank-lines"]
    assert out == "a = 1\nc = 3\nd = 4\n"


def test_an_extra_blank_line_that_could_be_any_of_the_new_blank_lines_is_refused():
    # The old text has two blank lines where the file has one; the new text adds a line between blank lines,
    # so whether the result has one blank line before `log` and two after, or two before and one after, is unknown.
    with pytest.raises(EditRefused, match="unclear"):
        apply("import a\n\nX = 1\n", Hunk("import a\n\n\nX = 1\n", "import a\n\n\nlog = 1\n\n\nX = 1\n"))


def test_blocks_with_the_same_old_text_are_placed_in_the_only_order_that_fits():
    source = "x = 1\n\ny = 1\n\nx = 1\n\ny = 1\n\nEND = 0\nLAST = 0\n"
    hunks = [Hunk(o, n) for o, n in (("x = 1\n", "x = 2\n"), ("y = 1\n", "y = 2\n"), ("x = 1\n", "x = 3\n"), ("y = 1\n", "y = 3\n"), ("END = 0\n", "END = 1\n"), ("LAST = 0\n", "LAST = 1\n"))]
    out, _ = apply(source, *hunks)
    assert out == "x = 2\n\ny = 2\n\nx = 3\n\ny = 3\n\nEND = 1\nLAST = 1\n"


NESTED = (
    "def a():\n"
    "    if x:\n"
    "        return 1\n"
    "    return 0\n"
    "\n"
    "\n"
    "def b():\n"
    "    if y:\n"
    "        if x:\n"
    "            return 1\n"
    "    return 0\n"
    "\n"
    "\n"
    "END = 0\n"
)


def test_a_block_whose_slip_matches_elsewhere_exactly_is_placed_between_its_neighbours():
    # The third block is b's inner `if`, written one level too shallow: that text is a()'s body exactly, which
    # is out of order with the blocks around it, so it is placed again between them (re-indented).
    hunks = (
        Hunk("def b():\n", "def b2():\n"),
        Hunk("    if y:\n", "    if y2:\n"),
        Hunk("    if x:\n        return 1\n", "    if x:\n        return 2\n"),
        Hunk("END = 0\n", "END = 1\n"),
    )
    out, _ = apply(NESTED, *hunks)
    assert out == NESTED.replace("def b()", "def b2()").replace("if y:", "if y2:").replace("            return 1", "            return 2").replace("END = 0", "END = 1")


def test_blocks_that_overlap_as_a_whole_are_read_in_sequence():
    # The second block's slipped old text is found inside the first block's region, which the first block
    # removes; read in sequence, it is found where it was meant: the indented `b = 2`.
    source = "a = 1\nb = 2\nc = 3\n\nif d:\n    b = 2\n"
    out, _ = apply(source, Hunk("a = 1\nb = 2\nc = 3\n", "a = 1\nc = 3\n"), Hunk("b = 2\n", "b = 5\n"))
    assert out == "a = 1\nc = 3\n\nif d:\n    b = 5\n"


def test_overlapping_diff_hunks_are_not_read_in_sequence():
    with pytest.raises(EditRefused, match="overlap"):
        apply("a = 1\nb = 2\nc = 3\n", Hunk("a = 1\nb = 2\n", "a = 0\nb = 2\n", at_line=1), Hunk("b = 2\nc = 3\n", "b = 2\nc = 0\n", at_line=2))


def test_an_extra_blank_line_is_not_taken_for_a_like_line_the_edit_removes():
    # The old text starts with a blank line the file lacks. Which of the new text's blank lines stand for it and
    # which for the file's own is open (a shortest diff may pair them either way), and the results differ, so
    # the edit is refused rather than guessed.
    with pytest.raises(EditRefused, match="unclear"):
        apply("x = 1\n\n\n", Hunk("\nx = 1\n\n\n", "y = 2\n\n\n"))

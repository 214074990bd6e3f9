"""The syntax check against the compilers: valid code the grammars get wrong passes, real breakage does not."""

from __future__ import annotations

import pytest
from loopwright.tools.editing import EditRefused, apply_edits, str_replace, whole_file
from loopwright.tools.editing.syntax import new_problems, problems

# Constructs from reference solutions that compile, which the installed grammars report as syntax errors.
REACT_RS = """use std::collections::HashMap;

pub struct ComputeCell<'a, T: Copy> {
    value: T,
    f: Box<dyn 'a + Fn(&[T]) -> T>,
    callbacks: HashMap<usize, Box<dyn 'a + FnMut(T)>>,
}

impl<'a, T: Copy> ComputeCell<'a, T> {
    pub fn compute(&self, inputs: &[T]) -> T {
        (self.f)(inputs)
    }
}
"""

TREE_ITER_H = """#pragma once
#include <memory>

template <typename T>
class tree_iter {
public:
    const T& operator*() const { return _branch_iter->operator*(); }
    const T* operator->() const { return &this->operator*(); }
    bool same(const tree_iter& other) const { return _branch_iter.operator==(other._branch_iter); }

private:
    std::unique_ptr<tree_iter<T>> _branch_iter;
};
"""

FREQUENCY_CPP = """#include <algorithm>
#include <string_view>
#include <vector>

#ifdef __apple_build_version__
#define PAR_UNSEQ
#else
#include <execution>
#define PAR_UNSEQ std::execution::par_unseq,
#endif

std::vector<int> lengths(std::vector<std::string_view> const& texts) {
    std::vector<int> out(texts.size());
    std::transform(PAR_UNSEQ texts.cbegin(), texts.cend(), out.begin(),
                   [](auto text) { return static_cast<int>(text.size()); });
    return out;
}
"""

VALID = [("src/lib.rs", REACT_RS), ("tree_iter.h", TREE_ITER_H), ("frequency.cpp", FREQUENCY_CPP)]


@pytest.mark.parametrize(("name", "source"), VALID)
def test_valid_code_the_grammar_gets_wrong_is_written_as_a_new_file(tmp_path, name, source):
    apply_edits(tmp_path, [whole_file(name, source)])
    assert (tmp_path / name).read_text() == source


@pytest.mark.parametrize(("name", "source"), VALID)
def test_valid_code_the_grammar_gets_wrong_replaces_a_stub(tmp_path, name, source):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("// TODO\n")
    apply_edits(tmp_path, [whole_file(name, source)])
    assert (tmp_path / name).read_text() == source


@pytest.mark.parametrize(
    ("name", "source", "old", "new"),
    [
        # an unclosed brace
        ("src/lib.rs", REACT_RS, "        (self.f)(inputs)\n    }\n", "        (self.f)(inputs)\n"),
        ("tree_iter.h", TREE_ITER_H, "return &this->operator*(); }", "return &this->operator*();"),
        ("frequency.cpp", FREQUENCY_CPP, "    return out;\n}\n", "    return out;\n"),
        # a half-written function
        ("src/lib.rs", REACT_RS, "        (self.f)(inputs)\n", "        let x = (self.f)(\n"),
        ("tree_iter.h", TREE_ITER_H, "const T& operator*() const {", "const T& operator*() const { return"),
        ("frequency.cpp", FREQUENCY_CPP, "    return out;\n}\n", "    return out;\n}\n\nint half(int a) {\n    return a +\n"),
        # breakage inside the very construct the grammar gets wrong
        ("src/lib.rs", REACT_RS, "Box<dyn 'a + Fn(&[T]) -> T>", "Box<dyn 'a + Fn(&[T]) -> T"),
        ("tree_iter.h", TREE_ITER_H, "_branch_iter->operator*();", "_branch_iter->operator*(;"),
        ("frequency.cpp", FREQUENCY_CPP, "out.begin(),", "out.begin(,"),
    ],
)
def test_real_breakage_is_still_refused_beside_those_constructs(tmp_path, name, source, old, new):
    broken = source.replace(old, new, 1)
    assert broken != source
    with pytest.raises(EditRefused, match=rf"{name}: the edit would introduce syntax errors"):
        apply_edits(tmp_path, [whole_file(name, broken)])
    assert not (tmp_path / name).exists()
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(source)
    with pytest.raises(EditRefused, match=rf"{name}: the edit would introduce syntax errors"):
        apply_edits(tmp_path, [str_replace(name, old, new)])
    assert (tmp_path / name).read_text() == source


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("a.rs", "fn f<'a>(x: &(dyn 'static + Send + Sync)) {}\n"),
        ("a.rs", 'unsafe extern "C" {\n    pub safe fn abs(x: i32) -> i32;\n    safe static LIMIT: u32;\n}\n'),
        ("a.cpp", "bool f(A a, A* b) { return a.operator<(b[0]) && b->Base::operator[](1) && a.operator bool(); }\n"),
        ("a.cpp", "#define BEGIN_NS namespace x {\n#define END_NS }\nBEGIN_NS\nint f();\nEND_NS\n"),
        ("a.cpp", "static void Q_DECL_UNUSED helper() {}\n"),
        ("a.c", "#define DEFINE_GETTER(name) int get_##name(void) { return name; }\nstatic int size;\nDEFINE_GETTER(size)\n"),
        ("a.h", "#define NOEXCEPT noexcept\nstruct A { void f() NOEXCEPT; };\n"),
    ],
)
def test_each_known_grammar_gap_passes(name, source):
    assert problems(name, source) == []


def test_a_macro_does_not_hide_an_error_on_its_own_line():
    source = "#define N 10\nint a[N];\nint f(void) {\n  return N +;\n}\n"
    assert [(p.line, p.kind) for p in problems("a.c", source)] == [(4, "missing 'identifier'")]


def test_an_edit_inside_a_region_that_was_already_broken_is_not_blamed(tmp_path):
    target = tmp_path / "half.py"
    target.write_text("def broken(:\n    pass\n\nvalue = 1\n")
    apply_edits(tmp_path, [str_replace("half.py", "def broken(:", "def broken(a, :")])
    assert target.read_text() == "def broken(a, :\n    pass\n\nvalue = 1\n"
    with pytest.raises(EditRefused, match="line 4"):
        apply_edits(tmp_path, [str_replace("half.py", "value = 1", "value = (1")])


def test_a_whole_file_rewrite_is_checked_outside_the_old_broken_region(tmp_path):
    before = "def broken(:\n    pass\n\nvalue = 1\n"
    target = tmp_path / "half.py"
    target.write_text(before)
    with pytest.raises(EditRefused, match="half.py: the edit would introduce syntax errors"):
        apply_edits(tmp_path, [whole_file("half.py", before + "\ndef later(x):\n    return [x,\n")])
    assert target.read_text() == before
    apply_edits(tmp_path, [whole_file("half.py", before.replace("value = 1", "value = 2"))])
    assert new_problems("half.py", before, "\n" + before) == []

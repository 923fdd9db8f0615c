"""One word per idea in the Japanese edition: docs/glossary.md lists, for each idea, the form the ja edition uses and
the forms it must not use; no lesson of lessons/ja (its prose, its code's comments and strings), no self-check
message and no grader message in Japanese may use one of the latter."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

import nbformat
import pytest

from shikumi.course.selfcheck import MESSAGES
from tests.conftest import ROOT, lesson_names

GLOSSARY = ROOT / "docs" / "glossary.md"
FORM = re.compile(r"`([^`]+)`")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass(frozen=True)
class Entry:
    english: str
    use: tuple[str, ...]      # the forms the ja edition writes
    avoid: tuple[str, ...]    # the forms it must not write
    section: int              # 1: the talk's words, 2: the course's


def read_glossary(text: str) -> list[Entry]:
    """The rows of the glossary's tables: | English | ja 版の表記 | 使わない表記 | where |."""
    entries, section = [], 0
    for line in text.splitlines():
        if line.startswith("## "):
            section += 1
        if not line.startswith("|") or set(line) <= set("|- ") or "ja 版の表記" in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        entries.append(Entry(cells[0], tuple(FORM.findall(cells[1])), tuple(FORM.findall(cells[2])), section))
    return entries


def misused(text: str, entries: list[Entry]) -> list[tuple[str, str, str]]:
    """(form to avoid, form to use, the words around it) for each avoided form in `text`. A form inside a longer
    form to use does not count: トーク inside トークン, 絵 inside 絵文字."""
    uses = {form for e in entries for form in e.use}
    found = []
    for entry in entries:
        for bad in entry.avoid:
            masked = text
            for good in sorted((u for u in uses if bad in u and u != bad), key=len, reverse=True):
                masked = masked.replace(good, "\0" * len(good))
            for m in re.finditer(re.escape(bad), masked):
                around = text[max(0, m.start() - 20): m.end() + 20].replace("\n", " ")
                found.append((bad, entry.use[0] if entry.use else "?", around))
    return found


def visible_text(nb) -> list[tuple[int, str]]:
    """What a learner reads in a notebook: each markdown cell, and the comments and strings of each code cell."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            out.append((i, cell.source))
        elif cell.cell_type == "code":
            out.append((i, "\n".join(_comments_and_strings(cell.source))))
    return out


def _comments_and_strings(source: str) -> list[str]:
    kinds = {tokenize.COMMENT, tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_MIDDLE",)
                                                    if hasattr(tokenize, n)}
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(source + "\n").readline) if t.type in kinds]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [source]   # not Python (a %magic line…): all of it is shown


ENTRIES = read_glossary(GLOSSARY.read_text(encoding="utf-8"))


# -- the glossary itself --------------------------------------------------------------------------------------

def test_the_glossary_lists_the_talks_words_first_then_the_courses():
    assert len(ENTRIES) >= 30
    talk = {form for e in ENTRIES if e.section == 1 for form in e.use}
    course = {form for e in ENTRIES if e.section == 2 for form in e.use}
    assert {"潜在表現", "特徴マップ", "ノイズ除去", "プレゼン", "画像"} <= talk
    assert {"交差エントロピー", "評価用", "形", "チャネル", "ピクセル"} <= course
    assert all(e.use for e in ENTRIES), "every idea has a form to use"
    uses = talk | course
    assert not [bad for e in ENTRIES for bad in e.avoid if bad in uses], "a form is both to use and to avoid"


def test_the_check_finds_a_variant_and_spares_a_longer_right_word():
    """The check can fail: a planted variant is found, in prose and in a code comment."""
    assert [bad for bad, _, _ in misused("このトークでは、形状 (B, T) の絵を描きます。", ENTRIES)] == ["トーク", "絵", "形状"]
    assert misused("トークンとトークナイザ、絵文字、プレゼン、形 (B, T) の画像。", ENTRIES) == []
    planted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("ノイズ除去"),
                                              nbformat.v4.new_code_cell("x = 1  # クロスエントロピーを下げる")])
    found = [(i, bad) for i, text in visible_text(planted) for bad, _, _ in misused(text, ENTRIES)]
    assert found == [(1, "クロスエントロピー")]


# -- what the Japanese learner reads -----------------------------------------------------------------------

@pytest.mark.parametrize("name", lesson_names())
def test_the_japanese_edition_uses_one_word_per_idea(name):
    nb = nbformat.read(str(ROOT / "lessons" / "ja" / f"{name}.ipynb"), as_version=4)
    found = [f"cell {i}: {bad!r} (write {good!r}) in …{around}…"
             for i, text in visible_text(nb) for bad, good, around in misused(text, ENTRIES)]
    assert not found, f"lessons/ja/{name}.ipynb uses words docs/glossary.md rules out:\n" + "\n".join(found)


def test_the_japanese_self_check_and_grader_messages_use_one_word_per_idea():
    texts = [("shikumi/course/selfcheck.py", m) for m in MESSAGES["ja"].values()]
    for path in sorted((ROOT / "autograder" / "checks").glob("*.py")):
        texts += [(path.name, s) for s in _comments_and_strings(path.read_text(encoding="utf-8")) if JAPANESE.search(s)]
    found = [f"{where}: {bad!r} (write {good!r}) in …{around}…"
             for where, text in texts for bad, good, around in misused(text, ENTRIES)]
    assert not found, "Japanese messages use words docs/glossary.md rules out:\n" + "\n".join(found)

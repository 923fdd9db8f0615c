"""The presenter's notes, docs/presenter/NN.md: one per lesson, in English and in Japanese, and tied to the lesson so
that they cannot drift silently. A note cites only slides the talk has (1–50), always the lesson's own slides (its
title line: "(slides 21–25)"), names as common mistakes only exercises the lesson has, under their number
("Exercise 1.1" / 「演習 1.1」), the same ones in both halves, and its Japanese half writes one word per idea
(docs/glossary.md)."""

from __future__ import annotations

import re

import pytest

from shikumi.course import release
from tests.conftest import ROOT, lesson_names
from tests.test_glossary import ENTRIES, misused

NOTES = ROOT / "docs" / "presenter"
TALK_SLIDES = range(1, 51)            # /work/shared/seed/talk-slides.txt: slides 1 to 50
HALVES = {"en": "## English", "ja": "## 日本語"}
MISTAKES = {"en": "### Common mistakes", "ja": "### よくある間違い"}
EXERCISE = {"en": r"\(Exercise (\d+\.\d+)\)", "ja": r"（演習 (\d+\.\d+)）"}
# "slide 24", "slides 21–25", "slides: 2 and 8", "スライド 42、48–50", "スライドは 2 と 8"
NUMBERS = r"\d+(?:\s*[–-]\s*\d+)?(?:\s*(?:,|、|and|と)\s*\d+(?:\s*[–-]\s*\d+)?)*"
SLIDES = re.compile(rf"(?:[Ss]lides?|スライド)(?:は)?[\s:：*]*({NUMBERS})")
JAPANESE = re.compile(r"[\u3040-\u30ff]")
MISTAKE_LINE = re.compile(r"^- \*\*`([^`]+)`\*\*\s*(.*)$")


def expand(numbers: str) -> set[int]:
    """"21–25, 32" → {21, 22, 23, 24, 25, 32}."""
    found = set()
    for part in re.split(r"\s*(?:,|、|and|と)\s*", numbers.strip()):
        bounds = [int(n) for n in re.split(r"\s*[–-]\s*", part)]
        found |= set(range(bounds[0], bounds[-1] + 1))
    return found


def cited_slides(text: str) -> set[int]:
    return set().union(*(expand(m.group(1)) for m in SLIDES.finditer(text)))


def title_slides(lesson: str) -> set[int]:
    """The slides a lesson names in its title line, "# 01 · … (slides 21–25)"."""
    nb = release.build_lesson(release.read_source(release.source_path(lesson, ROOT)), "en")
    title = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0]
    tag = release._SLIDE_TAG.search(title)
    assert tag, f"{lesson}: its title line names no slides: {title!r}"
    return expand(tag.group(1))


def halves(text: str) -> dict[str, str]:
    """{"en": the English half, "ja": the Japanese half}; a half that is missing is absent."""
    found, positions = {}, {lang: text.find("\n" + head + "\n") for lang, head in HALVES.items()}
    order = sorted((pos, lang) for lang, pos in positions.items() if pos >= 0)
    for i, (pos, lang) in enumerate(order):
        end = order[i + 1][0] if i + 1 < len(order) else len(text)
        found[lang] = text[pos:end]
    return found


def mistakes(half: str, lang: str) -> list[tuple[str, str]]:
    """(name, exercise number) of each bullet under the half's "Common mistakes" heading."""
    start = half.find(MISTAKES[lang] + "\n")
    if start < 0:
        return []
    section = half[start + len(MISTAKES[lang]):].split("\n### ", 1)[0]
    out = []
    for line in section.splitlines():
        if m := MISTAKE_LINE.match(line):
            number = re.match(r"\s*" + EXERCISE[lang], m.group(2))
            out.append((m.group(1), number.group(1) if number else ""))
    return out


def problems(lesson: str, text: str) -> list[str]:
    """What is wrong with one lesson's presenter notes; [] when nothing is."""
    found = []
    exercises = {e.grade_id: e.number for e in release.exercises(release.solution_edition(lesson, "en", ROOT))}
    own = title_slides(lesson)
    parts = halves(text)
    for lang, head in HALVES.items():
        if lang not in parts:
            found.append(f"no {head!r} half")
            continue
        half = parts[lang]
        if len(half) < 1500:
            found.append(f"the {lang} half is a stub ({len(half)} characters)")
        kana = len(JAPANESE.findall(half))
        if lang == "ja" and kana < 300:
            found.append(f"the Japanese half has only {kana} kana: is it in Japanese?")
        if lang == "en" and kana > len(half) // 10:
            found.append(f"the English half is mostly Japanese ({kana} kana)")
        slides = cited_slides(half)
        if bad := sorted(s for s in slides if s not in TALK_SLIDES):
            found.append(f"the {lang} half cites slides the talk does not have: {bad}")
        if missing := sorted(own - slides):
            found.append(f"the {lang} half leaves out the lesson's own slides {missing} (its title: {sorted(own)})")
        named = mistakes(half, lang)
        if not 3 <= len(named) <= 5:
            found.append(f"the {lang} half names {len(named)} common mistakes under {MISTAKES[lang]!r} (3 to 5)")
        for name, number in named:
            if name not in exercises:
                found.append(f"the {lang} half names {name!r} as a common mistake, but {lesson}'s exercises are "
                             f"{sorted(exercises)}")
            elif number != exercises[name]:
                found.append(f"the {lang} half calls {name!r} exercise {number or '(none)'}; it is "
                             f"exercise {exercises[name]}")
    if {"en", "ja"} <= set(parts) and [n for n, _ in mistakes(parts["en"], "en")] != \
            [n for n, _ in mistakes(parts["ja"], "ja")]:
        found.append("the two halves name different common mistakes")
    if "ja" in parts:
        found += [f"the Japanese half writes {bad!r}; docs/glossary.md says {good!r} (…{around}…)"
                  for bad, good, around in misused(parts["ja"], ENTRIES)]
    return found


def note(lesson: str) -> str:
    return (NOTES / f"{lesson[:2]}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("lesson", lesson_names())
def test_each_lesson_has_presenter_notes_tied_to_it(lesson):
    path = NOTES / f"{lesson[:2]}.md"
    assert path.is_file(), f"{lesson} has no presenter notes: write {path.relative_to(ROOT)}"
    found = problems(lesson, note(lesson))
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)


def test_notes_are_only_for_lessons_that_exist():
    numbers = {name[:2] for name in lesson_names()}
    assert sorted(p.stem for p in NOTES.glob("*.md") if p.stem not in numbers) == []


def test_the_checks_find_drift():
    """The checks can fail: a note whose slides, exercises or halves drifted is caught, each way."""
    lesson = lesson_names()[1]                            # 01_ngram: slides 21–25
    good = note(lesson)
    assert problems(lesson, good) == []
    assert expand("21–25, 32") == {21, 22, 23, 24, 25, 32} and expand("2 and 8") == {2, 8}
    assert cited_slides("slides 21–25 and slide 47; スライド 42、48–50") == {21, 22, 23, 24, 25, 42, 47, 48, 49, 50}

    drifted = {
        "slide 51": good.replace("\n## 日本語\n", "\nSee slide 51.\n\n## 日本語\n", 1),
        "own slide": SLIDES.sub(lambda m: m.group(0).replace(m.group(1), "22"), good),
        "unknown exercise": good.replace("**`count_ngrams`**", "**`count_bigrams`**", 1),
        "renumbered": good.replace("(Exercise 1.1)", "(Exercise 1.9)", 1),
        "no Japanese": good.split("\n## 日本語\n")[0],
        "glossary": good.replace("## 日本語\n", "## 日本語\n\nこのトークの形状について。\n", 1),
    }
    expected = {"slide 51": "slides the talk does not have", "own slide": "leaves out the lesson's own slides",
                "unknown exercise": "count_bigrams", "renumbered": "exercise 1.9", "no Japanese": "'## 日本語'",
                "glossary": "'形状'"}
    for what, text in drifted.items():
        found = "\n".join(problems(lesson, text))
        assert expected[what] in found, f"{what}: not caught; problems found: {found or 'none'}"

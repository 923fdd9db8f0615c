"""One source, two editions: lessons/ is generated from solutions/ and stays in sync."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from shikumi.course import release
from tests.conftest import NBGRADER, ROOT, lesson_names


def test_there_are_lessons():
    assert "01_ngram" in lesson_names()


def test_release_check_passes_on_the_repository():
    """`shikumi release --check` is what tells a contributor that lessons/ is stale."""
    proc = subprocess.run([sys.executable, "-m", "shikumi", "release", "--check", "--root", str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_release_check_fails_when_a_lesson_is_stale(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "lessons", course / "lessons")
    stale = course / "lessons" / "ja" / "01_ngram.ipynb"
    nb = json.loads(stale.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "# edited by hand"
    stale.write_text(json.dumps(nb), encoding="utf-8")
    cmd = [sys.executable, "-m", "shikumi", "release", "--root", str(course)]
    proc = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert proc.returncode == 1 and "lessons/ja/01_ngram.ipynb" in proc.stderr
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0  # release repairs it
    assert subprocess.run(cmd + ["--check"], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("name", lesson_names())
def test_source_notebooks_are_stored_without_outputs(name):
    nb = release.read_source(release.source_path(name))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", lesson_names())
def test_source_follows_the_course_anatomy(name):
    nb = release.read_source(release.source_path(name))
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged `parameters`"
    for knob in ("DEVICE", "SIZE", "SEED"):
        assert f"{knob} =" in params[0].source
    exercises = release.exercises(nb)
    assert len(exercises) >= 4, "at least 4 graded exercises"
    assert all(e.points > 0 for e in exercises)
    ids = [release.grade_id(c) for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "grade_ids are unique"
    for lang in release.LANGS:  # the prose exists in both languages
        assert any(lang in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("name", lesson_names())
@pytest.mark.parametrize("lang", release.LANGS)
def test_released_lesson_hides_the_solutions(name, lang):
    source = release.read_source(release.source_path(name))
    lesson = nbformat.read(str(ROOT / "lessons" / lang / f"{name}.ipynb"), as_version=4)
    assert lesson.metadata["shikumi"]["lang"] == lang
    assert "generated_by" in lesson.metadata["shikumi"]
    other = "ja" if lang == "en" else "en"
    assert not any(other in c.metadata.get("tags", []) for c in lesson.cells)
    text = "\n".join(c.source for c in lesson.cells)
    assert release.BEGIN not in text and release.END not in text
    assert f"# {other}:" not in text
    for cell in source.cells:
        if release.is_answer_cell(cell):
            body = cell.source.split(release.BEGIN)[1].split(release.END)[0]
            for line in body.strip().splitlines():
                if len(line.strip()) > 25:  # a distinctive line of the solution must not leak
                    assert line.strip() not in text, line
    stubs = [c for c in lesson.cells if release.is_answer_cell(c)]
    assert len(stubs) == len(release.exercises(source))
    assert all("raise NotImplementedError(" in c.source and '"""' in c.source for c in stubs)
    assert all(not c.get("outputs") for c in lesson.cells if c.cell_type == "code")


@pytest.mark.parametrize("lang", release.LANGS)
def test_nbgrader_releases_one_language(tmp_path, lang):
    """An instructor who already uses nbgrader gets a source in one language (`shikumi release --nbgrader`),
    which nbgrader's own generate_assignment takes as it is: every prose cell once, self-checks in `lang`."""
    course = tmp_path / "course"
    cli = subprocess.run([sys.executable, "-m", "shikumi", "release", "--root", str(ROOT), "--nbgrader",
                          str(course), "--lang", lang, "--assignment", "lesson{number}"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    source = nbformat.read(str(course / "source" / "lesson01" / "01_ngram.ipynb"), as_version=4)
    other = "ja" if lang == "en" else "en"
    assert not any(other in c.metadata.get("tags", []) for c in source.cells)
    assert f'set_language("{lang}")' in "\n".join(c.source for c in source.cells)
    assert sum(release.BEGIN in c.source for c in source.cells) == 5   # the answers are there, for nbgrader
    proc = subprocess.run(
        [*NBGRADER, "generate_assignment", "lesson01", "--force",
         f"--CourseDirectory.root={course}"],
        capture_output=True, text=True, cwd=course, timeout=300,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    released = nbformat.read(str(course / "release" / "lesson01" / "01_ngram.ipynb"), as_version=4)
    answers = [c for c in released.cells if release.is_answer_cell(c)]
    assert len(answers) == 5
    assert all("raise NotImplementedError" in c.source and release.BEGIN not in c.source for c in answers)


def test_a_bad_assignment_name_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shikumi", "release", "--root", str(ROOT), "--nbgrader",
                           str(tmp_path), "--assignment", "../{lesson}"], capture_output=True, text=True)
    assert proc.returncode == 1 and "assignment name" in proc.stderr and not list(tmp_path.iterdir())


def _code_without_comments(nb) -> list[str]:
    import io
    import tokenize

    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tokens = tokenize.generate_tokens(io.StringIO(cell.source + "\n").readline)
        strings = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_MIDDLE", "TSTRING_MIDDLE")
                                        if hasattr(tokenize, n)}    # Python 3.12+ splits f-strings into parts
        kept = [t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                                            tokenize.INDENT, tokenize.DEDENT, *strings)]
        out.append(" ".join(kept))
    return out


@pytest.mark.parametrize("name", lesson_names())
def test_both_editions_run_the_same_code(name):
    """Only prose, comments and docstrings differ between the English and the Japanese edition."""
    en = nbformat.read(str(ROOT / "lessons" / "en" / f"{name}.ipynb"), as_version=4)
    ja = nbformat.read(str(ROOT / "lessons" / "ja" / f"{name}.ipynb"), as_version=4)
    en_code, ja_code = _code_without_comments(en), _code_without_comments(ja)
    # the stubs' messages are strings, so they drop out too
    assert en_code == ja_code


ENGLISH_PROSE = re.compile(r"[A-Za-z]{2,}[,:;]? [A-Za-z]{2,}[,:;]? [A-Za-z]{2,}")   # three English words in a row
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _message_strings(source: str) -> list[str]:
    """The texts a self-check cell shows: the strings given to expect() as `what` and `hint` (3rd and 4th
    arguments), directly or through a variable (what, hint = "…", "…"). Data such as a model's input is not."""
    import ast

    tree = ast.parse(source)
    messages, names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "expect":
            shown = node.args[2:4] + [k.value for k in node.keywords if k.arg in ("what", "hint")]
            for arg in shown:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Name):
                        names.add(part.id)
                    elif isinstance(part, ast.Constant) and isinstance(part.value, str):
                        messages.append(part.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            if names & set(targets):
                messages += [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)
                             and isinstance(c.value, str)]
    return messages


@pytest.mark.parametrize("name", lesson_names())
def test_the_japanese_self_checks_speak_japanese(name):
    """What a self-check prints in the Japanese edition (what is checked, the hint) is written in Japanese:
    no string of English prose without a Japanese word in it (formulas and code names are fine)."""
    ja = nbformat.read(str(ROOT / "lessons" / "ja" / f"{name}.ipynb"), as_version=4)
    checks = [c for c in ja.cells if c.cell_type == "code" and (release.grade_id(c) or "").endswith("_check")]
    english = [(release.grade_id(c), s) for c in checks for s in _message_strings(c.source)
               if ENGLISH_PROSE.search(s) and not JAPANESE.search(s)]
    assert checks and not english, "English in the Japanese self-checks:\n" + "\n".join(map(str, english))
    imports = "\n".join(c.source for c in ja.cells if c.cell_type == "code")
    assert 'set_language("ja")' in imports and 'set_language("en")' not in imports


JAPANESE_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]+")
SHOWN_BY = {"expect", "expect_close", "expect_shape", "print", "title", "set_title", "suptitle", "xlabel", "ylabel",
            "set_xlabel", "set_ylabel", "passed", "explained"}          # calls whose texts a learner reads
SHOWN_AS = {"what", "hint", "title", "xlabel", "ylabel", "label", "description", "desc", "titles", "labels"}
QUOTED_DATA = {"To be, or not"}    # lesson 04's prompt: Shakespeare, in both editions


def _texts(node) -> list[str]:
    return [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]


def untranslated(source_nb) -> list[str]:
    """Each tr(en, ja) of a source whose halves are not in their languages: Japanese words in the English half
    that the Japanese half does not also quote (data such as 「私は家を建てた」 is in both), or English prose with
    no Japanese in a Japanese half that differs from the English one."""
    found = []
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr" and len(node.args) == 2:
                en, ja = (" ".join(_texts(a)) for a in node.args)
                found += [f"English half has {w!r}: {en[:80]!r}" for w in JAPANESE_WORD.findall(en) if w not in ja]
                if ENGLISH_PROSE.search(ja) and not JAPANESE.search(ja) and ja != en:
                    found.append(f"Japanese half is English: {ja[:80]!r}")
    return found


def shown_in_english(edition) -> list[str]:
    """Texts a Japanese edition shows (given to print, expect, a plot's title or label…, directly or through a
    variable) that are English prose with no Japanese in them."""
    found = []
    for cell in edition.cells:
        if cell.cell_type != "code":
            continue
        tree, shown, names = ast.parse(cell.source), [], set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                args = list(node.args) if name in SHOWN_BY else []
                for arg in args + [k.value for k in node.keywords if k.arg in SHOWN_AS]:
                    shown += _texts(arg)
                    names |= {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and names & {n.id for t in node.targets for n in ast.walk(t)
                                                          if isinstance(n, ast.Name)}:
                shown += _texts(node.value)
        found += [s for s in shown if ENGLISH_PROSE.search(s) and not JAPANESE.search(s) and s not in QUOTED_DATA]
    return found


@pytest.mark.parametrize("name", lesson_names())
def test_every_text_a_learner_sees_is_in_the_editions_language(name):
    source = release.read_source(release.source_path(name))
    assert not untranslated(source)
    ja = nbformat.read(str(ROOT / "lessons" / "ja" / f"{name}.ipynb"), as_version=4)
    assert not shown_in_english(ja)


def test_the_language_test_finds_an_untranslated_text():
    """The test above can fail: a half left in the other language, and English shown in a Japanese edition."""
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'print(tr("loss 損失値", "損失"))\nexpect(x, 1, tr("the loss", "the loss value here"))')])
    assert len(untranslated(bad)) == 2
    edition = release.build_lesson(bad, "ja")
    assert shown_in_english(edition) == ["the loss value here"]

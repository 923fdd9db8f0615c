"""One source, two editions: lessons/ is generated from solutions/ and stays in sync."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from shikumi import release
from tests.conftest import ROOT, lesson_names


def test_there_are_lessons():
    assert "01_ngram" in lesson_names()


def test_release_check_passes_on_the_repository():
    """`shikumi release --check` is what tells a contributor that lessons/ is stale."""
    proc = subprocess.run([sys.executable, "-m", "shikumi.cli", "release", "--check", "--root", str(ROOT)],
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
    cmd = [sys.executable, "-m", "shikumi.cli", "release", "--root", str(course)]
    proc = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert proc.returncode == 1 and "lessons/ja/01_ngram.ipynb" in proc.stderr
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0  # release repairs it
    assert subprocess.run(cmd + ["--check"], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("name", lesson_names())
def test_source_notebooks_are_stored_without_outputs(name):
    nb = release.read_source(ROOT / "solutions" / f"{name}.ipynb")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", lesson_names())
def test_source_follows_the_course_anatomy(name):
    nb = release.read_source(ROOT / "solutions" / f"{name}.ipynb")
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
    source = release.read_source(ROOT / "solutions" / f"{name}.ipynb")
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


def test_nbgrader_generate_assignment_accepts_the_source(tmp_path):
    """An instructor who already uses nbgrader can take a lesson as it is."""
    course = tmp_path / "course"
    (course / "source" / "lesson01").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "01_ngram.ipynb", course / "source" / "lesson01" / "01_ngram.ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "lesson01", "--force",
         f"--CourseDirectory.root={course}"],
        capture_output=True, text=True, cwd=course, timeout=300,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    released = nbformat.read(str(course / "release" / "lesson01" / "01_ngram.ipynb"), as_version=4)
    answers = [c for c in released.cells if release.is_answer_cell(c)]
    assert len(answers) == 5
    assert all("raise NotImplementedError" in c.source and release.BEGIN not in c.source for c in answers)


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

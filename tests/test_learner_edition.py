"""The learner edition: everything a learner needs, nothing that grades, and it works on its own.

The install test puts the edition into a fresh virtual environment that borrows this environment's
site-packages through a .pth line (torch is not installed twice) and installs the edition with
`pip --no-deps`. That environment can import neither the repository's `shikumi` nor `autograder`, so what
runs there is the edition alone. A blank lesson stops at its first `NotImplementedError` stub by design, so
the edition's own self-test runs lesson 01 up to its first exercise, and a copy with the answers typed in
(from solutions/) must run top to bottom.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from shikumi.course import learner, release
from tests.conftest import ROOT, lesson_names

LESSON = "01_ngram"


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("handout") / "shikumi-course"
    written = learner.build(folder, ROOT, make_zip=True)
    assert written == [folder, folder.with_name("shikumi-course.zip")]
    return folder, written[1]


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def solution_lines() -> set[str]:
    """Every line of code inside a solution block of solutions/*, except those the released lessons show anyway
    (a line such as `return total` that also appears outside the blocks)."""
    inside_blocks, shown = set(), set()
    for name in lesson_names():
        for cell in release.read_source(release.source_path(name)).cells:
            if not release.is_answer_cell(cell):
                continue
            inside = False
            for line in cell.source.splitlines():
                if line.strip() in (release.BEGIN, release.END):
                    inside = line.strip() == release.BEGIN
                elif inside and line.strip() and not line.strip().startswith("#"):
                    inside_blocks.add(line.strip())
    for notebook in (ROOT / "lessons").rglob("*.ipynb"):
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            shown.update(line.strip() for line in cell.source.splitlines())
    return inside_blocks - shown


def stripped_lines(path: Path) -> set[str]:
    """The stripped lines of a file; of a notebook, the lines of its cells' sources and outputs' text."""
    if path.suffix != ".ipynb":
        return {line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()}
    nb = nbformat.read(str(path), as_version=4)
    texts = [c.source for c in nb.cells] + [str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", [])]
    return {line.strip() for text in texts for line in text.splitlines()}


def test_the_edition_holds_the_lessons_and_the_library(edition):
    folder, _ = edition
    got = files(folder)
    for lang in release.LANGS:
        lessons = {f"lessons/{lang}/{p.name}" for p in (ROOT / "lessons" / lang).glob("*.ipynb")}
        assert len(lessons) == len(lesson_names()) and lessons <= got
        for name in lessons:  # the released notebooks, byte for byte
            assert (folder / name).read_bytes() == (ROOT / name).read_bytes()
    for name in ("README.md", "Makefile", "selftest.py", "pyproject.toml", "docs/glossary.md",
                 "lib/shikumi/checkpoints/SHA256SUMS", "lib/shikumi/texts/mukashibanashi.txt",
                 "lib/shikumi/course/selfcheck.py", "lib/shikumi/course/cli.py"):
        assert name in got, name
    makefile = (folder / "Makefile").read_text(encoding="utf-8")
    assert "\nlab:" in makefile and "\nselftest:" in makefile
    pyproject = (folder / "pyproject.toml").read_text(encoding="utf-8")
    assert '"papermill' in pyproject and '"torch' in pyproject and "nbgrader" not in pyproject
    assert 'packages = ["shikumi", "shikumi.course", "shikumi.zoo"]' in pyproject   # every subpackage
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme and "make selftest" in readme


def test_the_course_installs_every_package_of_the_library():
    """pyproject.toml lists packages one by one: a new subpackage (shikumi.zoo) must be among them, or a
    non-editable install (the learner's, the Gradescope image) lacks it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    library = ROOT / "lib" / "shikumi"
    packages = {".".join(("shikumi", *p.parent.relative_to(library).parts)) for p in library.rglob("__init__.py")}
    assert packages <= listed, sorted(packages - listed)


def test_nothing_that_grades_or_answers(edition):
    folder, archive = edition
    got = files(folder)
    top = {name.split("/")[0] for name in got}
    assert not top & {"solutions", "autograder", ".git", "tests", "benchmarks", ".ci"}, top
    # of the course's tooling, only what the lessons import (the self-checks) and the `shikumi` command
    assert {n for n in got if n.startswith("lib/shikumi/course/")} == {
        f"lib/shikumi/course/{name}" for name in learner.COURSE_FOR_LEARNERS}
    check_modules = {p.read_bytes() for p in (ROOT / "autograder").rglob("*.py")}
    assert not any((folder / n).read_bytes() in check_modules for n in got), "a grader module was shipped"

    secret = solution_lines()
    assert len(secret) > 100  # the blocks really were read
    library = {n for n in got if n.startswith("lib/shikumi/")}
    for name in got:
        data = (folder / name).read_bytes()
        assert b"BEGIN SOLUTION" not in data and b"END SOLUTION" not in data, name
        if name in library:
            # The library is the course's public teaching material (lessons import it, learners read it; the
            # grader scores an answer that calls its solution 0): it may implement what an exercise asks, but
            # it must be the repository's library, unchanged.
            assert data == (ROOT / name).read_bytes(), name
            continue
        leaked = secret & stripped_lines(folder / name)
        assert not leaked, f"{name} holds solution lines: {sorted(leaked)[:3]}"

    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert {n.removeprefix("shikumi-course/") for n in names} == got
        assert all(zf.read(n) == (folder / n.removeprefix("shikumi-course/")).read_bytes() for n in names)


def test_a_copied_solution_would_be_caught(tmp_path):
    """The checks above would fail on an edition that carried answers (the defence is not vacuous)."""
    folder = tmp_path / "bad"
    (folder / "lessons" / "en").mkdir(parents=True)
    nbformat.write(release.solution_edition(LESSON, "en"), str(folder / "lessons" / "en" / f"{LESSON}.ipynb"))
    with pytest.raises(learner.EditionError, match="solution block"):
        learner.check(folder)
    assert solution_lines() & stripped_lines(folder / "lessons" / "en" / f"{LESSON}.ipynb")


def test_the_course_tooling_would_be_caught(tmp_path):
    """Of lib/shikumi/course/, an edition carries the self-checks and the command, never what builds or grades."""
    folder = tmp_path / "bad"
    (folder / "lib" / "shikumi" / "course").mkdir(parents=True)
    for name in learner.COURSE_FOR_LEARNERS:
        (folder / "lib" / "shikumi" / "course" / name).write_text("", encoding="utf-8")
    learner.check(folder)
    (folder / "lib" / "shikumi" / "course" / "release.py").write_text("", encoding="utf-8")
    with pytest.raises(learner.EditionError, match="course/release.py: it builds or grades"):
        learner.check(folder)


def test_destinations_that_are_refused(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("my work", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "shikumi", "learner-edition", str(mine), "--root", str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "not an earlier learner edition" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in mine.iterdir()) == ["chapter1.tex"]   # nothing written, nothing lost
    for inside in (ROOT, ROOT / "lessons" / "handout"):
        with pytest.raises(learner.EditionError):
            learner.build(inside, ROOT)


def test_stale_lessons_are_not_handed_out(tmp_path):
    course = tmp_path / "course"
    for name in ("solutions", "lessons"):
        shutil.copytree(ROOT / name, course / name)
    stale = course / "lessons" / "en" / f"{LESSON}.ipynb"
    stale.write_text(stale.read_text(encoding="utf-8").replace("n-gram", "N-gram"), encoding="utf-8")
    with pytest.raises(learner.EditionError, match="run `shikumi release` first"):
        learner.build(tmp_path / "out", course)
    assert not (tmp_path / "out").exists()


@pytest.mark.notebook
def test_it_installs_and_runs_on_its_own(edition, tmp_path, solutions):
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("installing without build isolation needs setuptools in this environment")
    folder, _ = edition
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # this environment's packages (torch, papermill…), but not its .pth files: not its editable shikumi
    Path(purelib, "course-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}

    def run(*args, cwd=folder):
        return subprocess.run([*map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)

    install = run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", folder, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-2000:]
    where = run(python, "-c", "import importlib.util as u, shikumi; print(shikumi.__file__, u.find_spec('autograder'))",
                cwd=tmp_path)
    assert where.stdout.startswith(purelib) and where.stdout.split()[-1] == "None", where.stdout + where.stderr

    grade = run(venv / "bin" / "shikumi", "grade", "homework.ipynb", cwd=tmp_path)
    assert grade.returncode == 2 and "grading is not part of the learner edition" in grade.stderr
    assert "Traceback" not in grade.stderr and len(grade.stderr.strip().splitlines()) == 1
    for command in (["release"], ["learner-edition", "copy"], ["gradescope", LESSON]):
        proc = run(venv / "bin" / "shikumi", *command, cwd=tmp_path)
        assert proc.returncode == 2 and "is not part of the learner edition" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

    selftest = run(python, "selftest.py")
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr[-2000:]
    assert "ran up to its first exercise" in selftest.stdout and selftest.stdout.strip().endswith("ready")

    blank = run(python, "selftest.py", "--run", folder / "lessons" / "en" / f"{LESSON}.ipynb")
    assert blank.returncode == 1 and "NotImplementedError" in blank.stdout, blank.stdout

    nb = nbformat.read(str(folder / "lessons" / "en" / f"{LESSON}.ipynb"), as_version=4)
    for cell in nb.cells:
        if release.is_answer_cell(cell):
            cell.source = solutions[LESSON][release.grade_id(cell)]
    filled = tmp_path / f"{LESSON}_answered.ipynb"
    nbformat.write(nb, str(filled))
    full = run(python, "selftest.py", "--run", filled)
    assert full.returncode == 0, full.stdout + full.stderr[-2000:]
    assert "ran top to bottom" in full.stdout

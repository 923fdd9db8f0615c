"""nbgrader and shikumi on one course folder: `nbgrader autograde` + `nbgrader export` and `shikumi grade` give
the same scores, late penalties and times, in CSVs that join on (assignment, student_id)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from shikumi.course import release
from tests.conftest import NBGRADER, ROOT

LESSON, ASSIGNMENT = "01_ngram", "lesson01"
NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
pytestmark = pytest.mark.notebook


def run(*args, cwd):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lib'}:{ROOT}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}  # nbgrader calls alembic
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def rows(path: Path) -> dict[tuple[str, str], dict]:
    with path.open(encoding="utf-8", newline="") as f:
        found = list(csv.DictReader(f))
    keys = [(r["assignment"], r["student_id"]) for r in found]
    assert len(set(keys)) == len(keys), keys  # a key to join on
    return dict(zip(keys, found))


@pytest.mark.skipif(shutil.which("nbgrader", path=str(Path(sys.executable).parent)) is None,
                    reason="nbgrader is not installed in this environment")
def test_nbgrader_and_shikumi_agree_on_one_course_folder(tmp_path):
    course = tmp_path / "course"
    written = release.release_nbgrader(course, "en", ROOT, assignment="lesson{number}", lessons=[LESSON])
    assert written == [course / "source" / ASSIGNMENT / f"{LESSON}.ipynb"]  # `shikumi release --nbgrader`
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "shikumi"\n'
                                               'c.LateSubmissionPlugin.penalty_method = "zero"\n', encoding="utf-8")
    # nbgrader reads a numeric offset (+0900) as seconds; UTC says the same to both
    run(*NBGRADER, "db", "assignment", "add", ASSIGNMENT, "--duedate=2026-11-03 14:59:00 UTC", cwd=course)
    run(*NBGRADER, "generate_assignment", ASSIGNMENT, "--force", cwd=course)
    (course / "course.toml").write_text(f'late_penalty = "zero"\n[due]\n{ASSIGNMENT} = 2026-11-03T23:59:00+09:00\n',
                                        encoding="utf-8")

    solution = {release.grade_id(c): c.source
                for c in release.solution_edition(LESSON, "en", ROOT).cells if release.is_answer_cell(c)}
    plan = {"alice": (list(solution), "2026-11-03 10:00:00.000000 UTC"),           # all, on time
            "bob": ([], "2026-11-02 10:00:00.000000 UTC"),                         # blank
            "carol": (["count_ngrams", "conditional_prob"], "2026-11-04 01:00:00.000000 UTC")}  # two, 10 h late
    for student, (done, stamp) in plan.items():
        nb = nbformat.read(str(course / "release" / ASSIGNMENT / f"{LESSON}.ipynb"), as_version=4)
        for cell in nb.cells:  # the learner works in nbgrader's released notebook
            if release.is_answer_cell(cell) and release.grade_id(cell) in done:
                cell.source = solution[release.grade_id(cell)]
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{LESSON}.ipynb"))
        (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")

    run(*NBGRADER, "autograde", ASSIGNMENT, "--create", cwd=course)
    run(*NBGRADER, "export", "--to", str(tmp_path / "nbgrader.csv"), cwd=course)
    run(sys.executable, "-m", "shikumi", "grade", str(course), "--out", str(tmp_path / "grades"), cwd=course)

    theirs, ours = rows(tmp_path / "nbgrader.csv"), rows(tmp_path / "grades" / "gradebook.csv")
    with (tmp_path / "grades" / "gradebook.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f))[:11] == NBGRADER_COLUMNS
    assert set(theirs) == set(ours) == {(ASSIGNMENT, s) for s in plan}
    for key in theirs:
        for column in ("raw_score", "late_submission_penalty", "score", "max_score"):
            assert float(theirs[key][column]) == float(ours[key][column]), (key, column, theirs[key], ours[key])
        for column in ("timestamp", "duedate"):
            assert theirs[key][column] == ours[key][column], (key, column)
    assert float(ours[(ASSIGNMENT, "carol")]["raw_score"]) == 4 and float(ours[(ASSIGNMENT, "carol")]["score"]) == 0
    assert float(ours[(ASSIGNMENT, "alice")]["score"]) == 10

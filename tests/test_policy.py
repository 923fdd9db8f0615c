"""The instructor's policy: due dates, late penalties, extensions, submission times, overrides, regrades.

Most tests use small synthetic results; the batch tests grade blank lessons, which cost no kernel (the grader
runs nothing when no answer was written)."""

from __future__ import annotations

import csv
import inspect
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder import batch, policy, report
from autograder.batch import discover, grade_batch
from autograder.grade import ExerciseResult, SubmissionResult
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"
JST = timezone(timedelta(hours=9))
UTC = timezone.utc
EXERCISES = ("count_ngrams", "conditional_prob", "smoothed_prob", "sentence_logprob", "greedy_generate")


def gradebook(out):
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def result(student="alice", scores=(2, 2, 1, 0, 0), submitted=None, assignment="", error=None) -> dict:
    """A results file's data as the grader writes it, with these scores for lesson 01's five exercises."""
    res = SubmissionResult(submission=f"{student}.ipynb", student_id=student, lesson=LESSON, max_score=10,
                           tests=[ExerciseResult(f"1.{i + 1}", gid, s, 2, f"output of {gid}")
                                  for i, (gid, s) in enumerate(zip(EXERCISES, scores))], error=error)
    res.score = sum(scores)
    data = res.to_gradescope()
    data["extra_data"].update(grade_ids=list(EXERCISES), assignment=assignment,
                              submitted_at=submitted.isoformat() if submitted else None,
                              submitted_at_source="timestamp.txt" if submitted else "")
    return data


def course(text: str, tmp_path: Path) -> policy.Course:
    path = tmp_path / "course.toml"
    path.write_text(text, encoding="utf-8")
    return policy.load_course(path)


POLICY = """
late_penalty = { per_day = 0.1, max = 0.5 }

[due]
01_ngram = 2026-12-03T23:59:00+09:00

[extensions.bob]
01_ngram = 2026-12-10T23:59:00+09:00
"""


# -- late penalty arithmetic --------------------------------------------------------------------------------

@pytest.mark.parametrize("submitted, penalty", [
    (datetime(2026, 12, 3, 23, 59, tzinfo=JST), 0),            # on the minute
    (datetime(2026, 12, 3, 14, 58, tzinfo=UTC), 0),            # 23:58 in Tokyo: on time
    (datetime(2026, 12, 3, 15, 30, tzinfo=UTC), 1),            # 00:30 the next day in Tokyo: 31 min late → 1 day
    (datetime(2026, 12, 4, 23, 59, tzinfo=JST), 1),            # exactly one day late
    (datetime(2026, 12, 5, 0, 0, tzinfo=JST), 2),              # one day and a minute: the second day started
    (datetime(2026, 12, 20, tzinfo=JST), 5),                   # capped at max = 0.5 of 10 points
])
def test_late_penalty_per_day_in_the_due_dates_time_zone(tmp_path, submitted, penalty):
    a = policy.assess(result(scores=(2, 2, 2, 2, 0), submitted=submitted), course(POLICY, tmp_path))
    assert (a.raw_score, a.penalty, a.score) == (8, penalty, 8 - penalty)


def test_an_extension_moves_the_due_date_of_that_learner_only(tmp_path):
    c = course(POLICY, tmp_path)
    late = datetime(2026, 12, 8, 12, 0, tzinfo=JST)
    assert policy.assess(result("alice", submitted=late), c).penalty == 0.5 * 10
    bob = policy.assess(result("bob", submitted=late), c)
    assert bob.penalty == 0 and bob.extended == datetime(2026, 12, 10, 23, 59, tzinfo=JST)
    assert policy.assess(result("bob", submitted=datetime(2026, 12, 11, 1, 0, tzinfo=JST)), c).penalty == 1


def test_the_penalty_never_takes_more_than_the_learner_has_and_zero_takes_all(tmp_path):
    a = policy.assess(result(scores=(1, 0, 0, 0, 0), submitted=datetime(2026, 12, 6, tzinfo=JST)),
                      course(POLICY, tmp_path))
    assert (a.raw_score, a.penalty, a.score) == (1, 1, 0)   # 3 days would be 3 points; only 1 to take
    zero = course('late_penalty = "zero"\n[due]\nlesson01 = 2026-12-03T23:59:00+09:00\n', tmp_path)
    late = result(scores=(2, 2, 2, 0, 0), submitted=datetime(2026, 12, 4, tzinfo=JST), assignment="lesson01")
    assert (policy.assess(late, zero).penalty, policy.assess(late, zero).score) == (6, 0)  # nbgrader's "zero"
    on_time = result(submitted=datetime(2026, 12, 3, tzinfo=JST), assignment="lesson01")
    assert policy.assess(on_time, zero).penalty == 0


def test_grace_minutes(tmp_path):
    c = course("late_penalty = { per_day = 0.2, grace_minutes = 15 }\n[due]\n01_ngram = 2026-12-03T23:59:00Z\n",
               tmp_path)
    assert policy.assess(result(submitted=datetime(2026, 12, 4, 0, 10, tzinfo=UTC)), c).penalty == 0
    assert policy.assess(result(submitted=datetime(2026, 12, 4, 0, 20, tzinfo=UTC)), c).penalty == 2


# -- submission times ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-12-01 10:00:00.000000 UTC", datetime(2026, 12, 1, 10, tzinfo=UTC)),   # nbgrader's default format
    ("2026-12-01 19:00:00.123456 +0900", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-12-01 19:00:00 Asia/Tokyo", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01T19:00:00+09:00\n", datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ("2026-12-01 10:00:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),              # no zone: UTC, as in nbgrader
])
def test_timestamps_as_nbgrader_writes_them(text, expected):
    assert policy.parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01 10:00:00 UTC", "2026-12-01 10:00:00 ../../etc/passwd",
                                  "2026-12-01 10:00:00 Mars/Olympus", "2026-12-01 10:00:00 +9900"])
def test_timestamps_that_are_not_times(text):
    with pytest.raises(ValueError):
        policy.parse_timestamp(text)


def nbgrader_course(tmp_path: Path, student="kim", assignment="lesson01", stamp: bytes | None = None) -> Path:
    folder = tmp_path / "course" / "submitted" / student / assignment
    folder.mkdir(parents=True)
    make_submission(folder, LESSON, {}, name=f"{LESSON}.ipynb")
    os.utime(folder / f"{LESSON}.ipynb", (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC
    if stamp is not None:
        (folder / "timestamp.txt").write_bytes(stamp)
    return folder


def test_timestamp_txt_is_the_submission_time(tmp_path):
    nbgrader_course(tmp_path, stamp=b"2026-12-01 10:00:00.000000 UTC")
    [sub] = discover([tmp_path / "course"])
    assert (sub.student_id, sub.assignment) == ("kim", "lesson01")
    facts = batch.submission_facts(sub)
    assert facts["submitted_at"] == "2026-12-01T10:00:00+00:00" and facts["submitted_at_source"] == "timestamp.txt"
    assert facts["submitted_at_note"] == ""


@pytest.mark.parametrize("make, why", [
    (lambda p: p.write_bytes(b"2026-12-01 10:00:00 UTC" + b" " * 10_000_000), "larger than"),   # huge
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe"), "not text"),                      # binary
    (lambda p: p.write_bytes(b"<script>alert(1)</script>"), "not a date and time"),
    (lambda p: p.write_bytes(b"2099-01-01 00:00:00 UTC"), "in the future"),
    (lambda p: p.symlink_to(p.parents[4] / "elsewhere.txt"), "symbolic link"),
    (lambda p: p.symlink_to("/dev/zero"), "symbolic link"),
    (lambda p: p.mkdir(), "regular file"),
    (lambda p: os.mkfifo(p), "regular file"),                                                  # would block
])
def test_a_hostile_timestamp_txt_is_ignored_with_a_note(tmp_path, make, why):
    folder = nbgrader_course(tmp_path)
    (tmp_path / "elsewhere.txt").write_text("2020-01-01 00:00:00 UTC", encoding="utf-8")  # early: would be on time
    make(folder / "timestamp.txt")
    [sub] = discover([tmp_path / "course"])
    facts = batch.submission_facts(sub)
    assert facts["submitted_at_source"] == "mtime", facts
    assert facts["submitted_at"] == "2023-11-14T22:13:20+00:00"
    assert why in facts["submitted_at_note"] and "modification time was used" in facts["submitted_at_note"]
    out = tmp_path / "grades"
    notices: list[str] = []
    grade_batch([tmp_path / "course"], out, progress=False, notices=notices)
    [row] = gradebook(out)
    assert row["timestamp_source"] == "mtime" and row["timestamp"] == "2023-11-14 22:13:20"
    assert why in row["message"] and any(why in n and n.startswith("kim:") for n in notices)


def test_without_nbgrader_the_files_modification_time_is_used_and_said(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    path = make_submission(cls, LESSON, {}, name="amy.ipynb")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    out = tmp_path / "grades"
    grade_batch([cls], out, progress=False)
    [row] = gradebook(out)
    assert (row["timestamp"], row["timestamp_source"]) == ("2023-11-14 22:13:20", "mtime")


# -- the gradebook ------------------------------------------------------------------------------------------

def nbgrader_export_columns() -> list[str]:
    """The columns of `nbgrader export`, read from nbgrader's own source."""
    from nbgrader.plugins.export import CsvExportPlugin

    keys = re.search(r"keys = \[(.*?)\]", inspect.getsource(CsvExportPlugin.export), re.S).group(1)
    return re.findall(r'"(\w+)"', keys)


def test_the_gradebook_starts_with_nbgraders_export_columns_in_order(tmp_path):
    columns = nbgrader_export_columns()
    assert len(columns) == 11 and columns[0] == "assignment"
    folder = nbgrader_course(tmp_path, stamp=b"2026-11-04 01:00:00.000000 UTC")  # 10:00 in Tokyo: 10 h late
    (tmp_path / "course.toml").write_text(POLICY.replace("01_ngram = 2026-12-03", "lesson01 = 2026-11-03"),
                                          encoding="utf-8")
    (tmp_path / "grades").mkdir()
    (tmp_path / "grades" / "overrides.csv").write_text(
        "student,lesson,exercise,points,reason\nkim,lesson01,count_ngrams,2,handed in by mail\n", encoding="utf-8")
    out = tmp_path / "grades"
    grade_batch([tmp_path / "course"], out, progress=False,
                course=policy.load_course(tmp_path / "course.toml"))
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header[:11] == columns
    assert {"lesson", "status", "message", "submission", "seed", "results"} <= set(header[11:])
    [row] = gradebook(out)
    assert row["assignment"] == "lesson01" and row["lesson"] == LESSON   # nbgrader's name, not the lesson id
    assert row["student_id"] == "kim" and row["timestamp"] == "2026-11-04 01:00:00"
    assert row["duedate"] == "2026-11-03 14:59:00"                       # UTC, as nbgrader writes it
    assert (row["raw_score"], row["late_submission_penalty"], row["score"], row["max_score"]) == ("2", "1", "1", "10")
    assert row["timestamp_source"] == "timestamp.txt" and row["graded_score"] == "0"
    assert folder.exists()


def test_every_gradebook_cell_is_spreadsheet_safe(tmp_path):
    out = tmp_path / "grades"
    data = result("=HYPERLINK(1)", assignment="+SUM(1)")
    data["extra_data"]["submission"] = "-2+3.ipynb"
    (out / "x").mkdir(parents=True)
    (out / "x" / f"{LESSON}.json").write_text(json.dumps(data), encoding="utf-8")
    (out / "overrides.csv").write_text("student,lesson,exercise,points,reason\n"
                                       "=HYPERLINK(1),+SUM(1),greedy_generate,1,@cmd\n", encoding="utf-8")
    overrides, problems = policy.read_overrides(out / "overrides.csv")
    report.rebuild_gradebook(out, None, overrides)
    [row] = gradebook(out)
    for column, value in row.items():
        assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), (column, value)
    assert row["raw_score"] == "6" and problems == []


# -- overrides ----------------------------------------------------------------------------------------------

def test_overrides_are_applied_before_the_late_penalty_and_shown_with_their_reason(tmp_path):
    data = result("alice", scores=(2, 2, 1, 0, 0), submitted=datetime(2026, 12, 4, 12, tzinfo=JST))
    overrides = [policy.Override(2, "alice", LESSON, "smoothed_prob", 2, "your slip was in the <b>docstring</b>"),
                 policy.Override(3, "alice", LESSON, "1.4", 1.5, "partly right")]
    a = policy.assess(data, course(POLICY, tmp_path), overrides)
    assert (a.graded_score, a.raw_score, a.penalty, a.score) == (5, 7.5, 1, 6.5)
    page = report.feedback_html(report.from_results(data), a)
    assert "changed by your instructor from 1: your slip was in the &lt;b&gt;docstring&lt;/b&gt;" in page
    assert "<b>docstring" not in page and "late penalty 1 points" in page and "6.5 / 10 (7.5 − 1 late penalty)" in page


def test_overrides_survive_a_rerun_and_bad_rows_are_reported_one_by_one(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    for name in ("amy", "ben"):
        make_submission(cls, LESSON, {}, name=f"{name}.ipynb")
    out = tmp_path / "grades"
    given = tmp_path / "my-overrides.csv"
    given.write_text(
        "\ufeffstudent,lesson,exercise,points,reason\n"          # Excel's BOM
        "amy,01_ngram,count_ngrams,2,emailed the right file\n"
        "amy,01_ngram,1.2,1.5,<script>alert(1)</script>\n"
        "ben,01_ngram,count_ngrams,ten,x\n"                     # not a number
        "ben,01_ngram,count_ngrams,-1,x\n"                      # negative
        "ben,01_ngram,count_ngrams,1,\n"                        # no reason
        "ben,01_ngram,no_such,1,x\n"                            # no such exercise
        "ben,01_ngram,smoothed_prob,3,x\n"                      # more than the exercise's 2 points
        "zed,01_ngram,count_ngrams,1,x\n"                       # nobody of that name
        "ben,01_ngram\n",                                       # a short row
        encoding="utf-8")
    notices: list[str] = []
    grade_batch([cls], out, progress=False, overrides_file=given, notices=notices)
    book = {r["student_id"]: r for r in gradebook(out)}
    assert (book["amy"]["raw_score"], book["amy"]["graded_score"]) == ("3.5", "0")
    assert book["ben"]["raw_score"] == "0"
    text = "\n".join(notices)
    assert "course policy: 0 late penalties and 2 override(s) applied" in text
    for row, why in ((4, "not a number"), (5, "not a number"), (6, "no reason"), (7, "no exercise 'no_such'"),
                     (8, "more than the exercise's 2"), (9, "no graded submission"), (10, "2 cells")):
        assert re.search(rf"row {row}\b.*{re.escape(why)}", text), (row, why, text)
    page = (out / "amy" / f"{LESSON}.html").read_text(encoding="utf-8")
    assert "emailed the right file" in page and "&lt;script&gt;" in page and "<script>" not in page
    assert (out / "overrides.csv").read_bytes() == given.read_bytes()   # kept for the next run

    again: list[str] = []
    _, skipped = grade_batch([cls], out, progress=False, notices=again)  # no --overrides this time
    assert skipped == 2 and gradebook(out)[0]["raw_score"] == "3.5"
    grade_batch([cls], out, progress=False, force=True)                  # graded again: still applied
    book = {r["student_id"]: r for r in gradebook(out)}
    assert book["amy"]["raw_score"] == "3.5" and "emailed the right file" in book["amy"]["overrides"]
    assert "emailed the right file" in (out / "amy" / f"{LESSON}.html").read_text(encoding="utf-8")


def test_an_unreadable_overrides_file_is_one_notice(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("name,points\nalice,3\n", encoding="utf-8")
    assert policy.read_overrides(path)[1] == [f"{path}, row 1: the first row must name the columns student, "
                                              "lesson, exercise, points, reason; no override applied"]
    path.write_bytes(b"\xff\xfe\x00binary")
    assert "not a text file" in policy.read_overrides(path)[1][0]


# -- regrades -----------------------------------------------------------------------------------------------

def test_a_single_file_named_after_its_lesson_needs_a_student(tmp_path):
    path = make_submission(tmp_path, LESSON, {})
    [sub] = discover([path])
    assert sub.problem and "--student" in sub.problem and sub.student_id == "(unknown)"
    [sub] = discover([path], student="alice")
    assert (sub.student_id, sub.problem) == ("alice", None)
    [sub] = discover([make_submission(tmp_path, LESSON, {}, name="carol.ipynb")])
    assert (sub.student_id, sub.problem) == ("carol", None)


def test_student_grades_one_learner_only(tmp_path):
    cls = tmp_path / "class"
    for name in ("amy", "ben"):
        (cls / name).mkdir(parents=True)
        make_submission(cls / name, LESSON, {}, name="homework.ipynb")
    out = tmp_path / "grades"
    results, _ = grade_batch([cls], out, progress=False, student="ben")
    assert [r.student_id for r in results] == ["ben"]
    assert [r["student_id"] for r in gradebook(out)] == ["ben"]


def test_force_grades_a_current_result_again(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    make_submission(cls, LESSON, {}, name="amy.ipynb")
    out = tmp_path / "grades"
    make_submission(cls, LESSON, {}, name="ben.ipynb")
    assert grade_batch([cls], out, progress=False)[1] == 0
    page = (out / "similarity.html").read_text(encoding="utf-8")  # two blanks: no pair is similar
    assert "<code>count_ngrams</code>" in page and page.count("no pair to compare") == len(EXERCISES)
    assert grade_batch([cls], out, progress=False)[1] == 2
    results, skipped = grade_batch([cls], out, progress=False, force=True)
    assert skipped == 0 and len(results) == 2


def test_exercise_checks_one_exercise_again_and_keeps_the_others(tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    path = make_submission(cls, LESSON, {}, name="amy.ipynb")
    out = tmp_path / "grades"
    grade_batch([cls], out, progress=False)
    stored_path = out / "amy" / f"{LESSON}.json"
    stored = json.loads(stored_path.read_text(encoding="utf-8"))
    for test in stored["tests"][:2]:  # as if an earlier grading had given these (by hand, or older checks)
        test["score"], test["output"] = 1.5, "kept from before"
    stored_path.write_text(json.dumps(stored), encoding="utf-8")

    results, _ = grade_batch([cls], out, progress=False, exercise="count_ngrams", force=True)
    data = json.loads(stored_path.read_text(encoding="utf-8"))
    assert [t["score"] for t in data["tests"]] == [0, 1.5, 0, 0, 0] and data["score"] == 1.5
    assert data["tests"][0]["output"].startswith("Not attempted") and data["tests"][1]["output"] == "kept from before"
    assert "count_ngrams checked again" in data["extra_data"]["note"]

    path.write_bytes(path.read_bytes().replace(b"Exercise", b"Exercise "))  # another submission: nothing to keep
    grade_batch([cls], out, progress=False, exercise="count_ngrams")
    data = json.loads(stored_path.read_text(encoding="utf-8"))
    assert data["score"] == 0 and "graded in full" in data["extra_data"]["note"]
    with pytest.raises(ValueError, match="no lesson has an exercise 'nope'"):
        grade_batch([cls], out, progress=False, exercise="nope")


# -- course.toml that cannot be used ------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('late_penalty = { per_day = 0.1, max = 0.5 \n', r"course\.toml, line 1 \(key late_penalty\): not valid TOML"),
    ('[due]\n01_ngram = "next friday"\n', r"course\.toml, line 2, key due\.01_ngram: 'next friday' is not a date"),
    ('[due]\n01_ngram = 2026-12-03T23:59:00\n', r"line 2, key due\.01_ngram: 2026-12-03T23:59:00 has no time zone"),
    ('late_penalty = { per_day = "ten" }\n', r"line 1, key late_penalty\.per_day: must be a number from 0 to 1"),
    ('late_penalty = "half"\n', r"line 1, key late_penalty: 'half' is not a rule"),
    ('\n[extension.bob]\n01_ngram = 2026-12-10T23:59:00+09:00\n', r"line 2, key extension: unknown setting"),
    ('[extensions]\nbob = 3\n', r"line 2, key extensions\.bob: must be a table"),
    ('[students.bob]\nname = "Bob"\n', r"line 2, key students\.bob\.name: unknown"),
])
def test_a_malformed_course_toml_is_one_sentence_with_file_line_and_key(tmp_path, text, expected):
    path = tmp_path / "course.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(policy.CourseError) as e:
        policy.load_course(path)
    assert re.search(expected, str(e.value)), str(e.value)
    assert "\n" not in str(e.value)


def test_the_cli_says_what_is_wrong_with_course_toml_and_grades_nothing(tmp_path):
    (tmp_path / "course.toml").write_text("[due]\n01_ngram = 2026-02-30T23:59:00+09:00\n", encoding="utf-8")
    sub = make_submission(tmp_path, LESSON, {}, name="amy.ipynb")
    proc = subprocess.run([sys.executable, "-m", "shikumi", "grade", str(sub), "--out", str(tmp_path / "g")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": f"{ROOT / 'lib'}:{ROOT}"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"shikumi grade: .*course\.toml, line 2 \(key 01_ngram\): not valid TOML: .*\n", proc.stderr)
    assert not (tmp_path / "g").exists()

"""Grading a class: folder layouts, bad files, duplicates, parallel workers, resuming after a crash."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import nbformat

from autograder.batch import discover, grade_batch
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"
HALF = ("count_ngrams", "conditional_prob")


def gradebook(out):
    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        return {(r["student_id"], r["submission"].rsplit("/", 1)[-1]): r for r in csv.DictReader(f)}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "shikumi", "grade", *map(str, args)],
                          capture_output=True, text=True, timeout=900)


def test_a_class_folder_with_every_kind_of_bad_input(tmp_path, solutions):
    cls = tmp_path / "class"
    half = {g: solutions[LESSON][g] for g in HALF}
    for student, answers in (("ann", half), ("ben", {})):  # one file name, two folders: two learners, two grades
        (cls / student).mkdir(parents=True)
        make_submission(cls / student, LESSON, answers, name="homework.ipynb")
    (cls / "dan").mkdir()
    make_submission(cls / "dan", LESSON, half, name="try1.ipynb")
    make_submission(cls / "dan", LESSON, {}, name="try2.ipynb")                    # two for one lesson
    (cls / "eve.ipynb").write_text("not json at all", encoding="utf-8")             # flat layout, broken
    (cls / "fay.ipynb").write_bytes(b"")                                              # empty
    (cls / "gus.ipynb").write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [],
                                               "metadata": {}, "cells": []}), encoding="utf-8")
    with (cls / "hal.ipynb").open("wb") as f:                                         # 200 MB (sparse)
        f.truncate(200 * 2**20)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("def solve(): return 42"))
    nbformat.write(nb, str(cls / "ivy.ipynb"))                                        # not a lesson of ours
    (cls / "jay").mkdir()
    (cls / "jay" / "notes.txt").write_text("I did my best", encoding="utf-8")        # not a notebook

    out = tmp_path / "grades"
    proc = cli(cls, "--out", out, "--workers", "2")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    book = gradebook(out)
    assert [book[(s, "homework.ipynb")]["score"] for s in ("ann", "ben")] == ["4", "0"]
    reasons = {
        ("dan", "try1.ipynb"): "2 notebooks for lesson 01_ngram", ("dan", "try2.ipynb"): "2 notebooks",
        ("eve", "eve.ipynb"): "not valid JSON", ("fay", "fay.ipynb"): "empty",
        ("gus", "gus.ipynb"): "format 3", ("hal", "hal.ipynb"): "200 MB",
        ("ivy", "ivy.ipynb"): "which lesson", ("jay", "notes.txt"): "not valid JSON",
    }
    for key, reason in reasons.items():
        assert book[key]["status"] == "error" and reason in book[key]["message"], (key, book[key])
        assert "\n" not in book[key]["message"]
    assert (out / "ann" / f"{LESSON}.html").exists()

    # run again: nothing changed, nothing is graded twice
    again = cli(cls, "--out", out, "--workers", "2")
    assert "0 graded" in again.stdout and "already graded" in again.stdout


def test_nbgrader_submitted_layout(tmp_path):
    folder = tmp_path / "course" / "submitted" / "kim" / "lesson01"
    folder.mkdir(parents=True)
    (folder / f"{LESSON}.ipynb").write_bytes((ROOT / "lessons" / "en" / f"{LESSON}.ipynb").read_bytes())
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC", encoding="utf-8")  # nbgrader's own
    (folder / "submission_secret.txt").write_text("3f1c0a9e", encoding="utf-8")                 # nbgrader 0.9's too
    subs = discover([tmp_path / "course"])
    assert [(s.student_id, s.path.name) for s in subs] == [("kim", f"{LESSON}.ipynb")]


def test_a_killed_batch_loses_nothing_and_resumes(tmp_path, solutions):
    cls = tmp_path / "class"
    cls.mkdir()
    make_submission(cls, LESSON, solutions[LESSON], name="amy.ipynb")
    make_submission(cls, LESSON, {g: solutions[LESSON][g] for g in HALF}, name="bob.ipynb")
    out = tmp_path / "grades"
    proc = subprocess.Popen([sys.executable, "-m", "shikumi", "grade", str(cls), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not list(out.glob("*/*.json")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the grader (and its kernel) in the middle of the batch
    proc.wait()
    finished = list(out.glob("*/*.json"))
    assert len(finished) == 1
    first = json.loads(finished[0].read_text(encoding="utf-8"))  # complete, valid JSON
    assert first["score"] in (4, 10)
    assert not list(out.glob("*/.*.tmp"))
    resumed = cli(cls, "--out", out)
    assert resumed.returncode == 0
    assert "1 graded, 1 already graded" in resumed.stdout
    book = gradebook(out)
    assert book[("amy", "amy.ipynb")]["score"] == "10" and book[("bob", "bob.ipynb")]["score"] == "4"


def test_the_same_submission_gets_the_same_grade_ten_times(tmp_path, solutions):
    """Copies of one notebook, graded in one batch by two workers: one score, one seed, one feedback. (Three
    copies: two graded at once, then one by a thread that has graded before, enough to show that neither the
    other thread nor an earlier grading disturbs a grade.)"""
    answers = {g: solutions[LESSON][g] for g in HALF}
    answers["smoothed_prob"] = SLIP  # partial credit: a score that depends on which inputs were drawn
    cls = tmp_path / "class"
    cls.mkdir()
    for i in range(3):
        make_submission(cls, LESSON, answers, name=f"learner{i}.ipynb")
    results, skipped = grade_batch([cls], tmp_path / "grades", workers=2, progress=False)
    assert skipped == 0 and len(results) == 3
    assert {r.error for r in results} == {None}
    outcomes = {(r.score, r.seed, tuple(t.output for t in r.tests)) for r in results}
    assert len(outcomes) == 1, outcomes
    score, seed, _ = outcomes.pop()
    # two exercises right (2 + 2), the slip's 1 of 5 checks, unless the seed these answers give draws k = 0 as an
    # edge case, which counts only once a main case passes
    assert score in (4.0, 4.4) and seed is not None


SLIP = """
def smoothed_prob(counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in counts.items() if gram[:-1] == context)
    return (counts[context + (word,)] + k) / (total + k)
"""

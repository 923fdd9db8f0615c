"""Grading end to end: real submissions through `shikumi grade`, scored by the hidden checks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import nbformat
import pytest

from autograder.grade import grade_submission
from shikumi.course import release
from tests.conftest import ROOT, lesson_names, make_submission

LESSON = "01_ngram"


def by_id(result):
    return {t.grade_id: t for t in result.tests}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "shikumi", "grade", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize("lesson", lesson_names())
def test_solution_gets_full_marks_and_blank_lessons_zero(tmp_path, lesson):
    """The complete lesson scores full marks, the released blank 0 — in one language each, alternating over the
    lessons so that both editions of the grader's messages are checked (every lesson's blank is the same
    release, so one edition per lesson is enough: running both cost a third of this test's time)."""
    out = tmp_path / "grades"
    max_score = sum(e.points for e in release.exercises(release.read_source(release.source_path(lesson))))
    solution_lang, blank_lang = ("en", "ja") if release.lesson_number(lesson) % 2 == 0 else ("ja", "en")
    copies = {"solution": nbformat.writes(release.solution_edition(lesson, solution_lang)),
              "blank": (ROOT / "lessons" / blank_lang / f"{lesson}.ipynb").read_text(encoding="utf-8")}
    for name, text in copies.items():
        (tmp_path / f"{name}.ipynb").write_text(text, encoding="utf-8")
    proc = run_cli(*(tmp_path / f"{name}.ipynb" for name in copies), "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    solution, blank = json.loads(proc.stdout)
    assert solution["score"] == solution["max_score"] == max_score, solution["tests"]
    assert all(t["status"] == "passed" for t in solution["tests"])
    not_attempted = {"en": "Not attempted", "ja": "未解答"}[blank_lang]   # in its own language
    assert blank["score"] == 0 and blank["max_score"] == max_score
    assert all(not_attempted in t["output"] for t in blank["tests"])
    # Gradescope's results.json per submission, and one gradebook row each
    results = json.loads((out / "solution" / f"{lesson}.json").read_text(encoding="utf-8"))
    assert "<html" in (out / "solution" / f"{lesson}.html").read_text(encoding="utf-8")
    assert {"score", "max_score", "tests"} <= set(results)
    assert {"name", "score", "max_score", "status", "output"} <= set(results["tests"][0])
    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(float(r["score"]) for r in rows) == [0, max_score]
    assert all(r["assignment"] == lesson for r in rows)


def test_half_done_submission_gets_its_exact_partial_score(tmp_path, solutions):
    answers = {gid: solutions[LESSON][gid] for gid in ("count_ngrams", "conditional_prob")}
    # smoothed_prob with the classic slip: k instead of k·V. Of its 5 checks only k = 0 passes → 2 × 1/5.
    answers["smoothed_prob"] = '''
def smoothed_prob(counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in counts.items() if gram[:-1] == context)
    return (counts[context + (word,)] + k) / (total + k)
'''
    result = grade_submission(make_submission(tmp_path, LESSON, answers), seed=0)  # a seed where k = 0 is
    tests = by_id(result)                                                           # a main case, not an edge
    assert result.error is None
    assert result.score == pytest.approx(4.4)
    assert tests["count_ngrams"].score == 2 and tests["conditional_prob"].score == 2
    assert tests["smoothed_prob"].score == pytest.approx(0.4)
    assert "1 of 5 checks passed" in tests["smoothed_prob"].output and "k·V" in tests["smoothed_prob"].output
    assert tests["sentence_logprob"].score == 0 and "Not attempted" in tests["sentence_logprob"].output


def test_syntax_error_and_infinite_loop_cost_only_their_own_exercise(tmp_path, solutions):
    answers = dict(solutions[LESSON])
    answers["smoothed_prob"] = "def smoothed_prob(counts, context, word, k, vocab_size)\n    return 0.5\n"
    answers["greedy_generate"] = ("def greedy_generate(counts, context, n, max_words=20):\n"
                                  "    while True:\n        pass\n")
    result = grade_submission(make_submission(tmp_path, LESSON, answers), cell_timeout=5)
    tests = by_id(result)
    assert tests["smoothed_prob"].score == 0 and "SyntaxError" in tests["smoothed_prob"].output
    assert tests["greedy_generate"].score == 0 and "did not finish within 5 s" in tests["greedy_generate"].output
    for gid in ("count_ngrams", "conditional_prob", "sentence_logprob"):
        assert tests[gid].score == 2, tests[gid].output
    assert result.score == 6


def test_edits_outside_the_answers_are_ignored(tmp_path, solutions):
    def vandalise(nb):
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = "I rewrote this."
            elif "parameters" in cell.metadata.get("tags", []):
                cell.source = 'DEVICE = "cuda"\nSIZE = "full"\nSEED = 1'
            elif cell.metadata.get("nbgrader", {}).get("grade"):
                cell.source = "print('my own check: everything is fine')"
        # delete the toy corpus, and one answer cell altogether
        nb.cells = [c for c in nb.cells if "toy = [" not in c.source and release.grade_id(c) != "greedy_generate"]
        nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('a cell the lesson never had')"))

    result = grade_submission(make_submission(tmp_path, LESSON, solutions[LESSON], edit=vandalise))
    tests = by_id(result)
    assert result.score == 8
    assert tests["greedy_generate"].score == 0 and "missing" in tests["greedy_generate"].output


def test_answer_cell_that_lost_its_metadata_is_found_by_its_def_line(tmp_path, solutions):
    def strip_metadata(nb):
        for cell in nb.cells:
            if release.grade_id(cell) == "count_ngrams":
                del cell.metadata["nbgrader"]

    result = grade_submission(make_submission(tmp_path, LESSON, {"count_ngrams": solutions[LESSON]["count_ngrams"]},
                                              edit=strip_metadata))
    test = by_id(result)["count_ngrams"]
    assert test.score == 2 and "found by its `def` line" in test.output


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"this is not json", "not valid JSON"),
    (b'{"cells": [], "nbformat": 3, "nbformat_minor": 0, "metadata": {}}', "format 3"),
    (b'["a", "list"]', "no 'cells'"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not text"),
])
def test_bad_files_get_one_line_reasons(tmp_path, content, reason):
    path = tmp_path / "01_ngram_bad.ipynb"
    path.write_bytes(content)
    result = grade_submission(path)
    assert result.error is not None and reason in result.error and "\n" not in result.error
    assert result.tests == []


def test_a_bad_file_does_not_stop_the_batch(tmp_path, solutions):
    bad = tmp_path / "alice.ipynb"
    bad.write_text("{ broken", encoding="utf-8")
    good = make_submission(tmp_path, LESSON, {"count_ngrams": solutions[LESSON]["count_ngrams"]}, name="bob.ipynb")
    out = tmp_path / "grades"
    proc = run_cli(bad, good, "--out", out)
    assert proc.returncode == 1  # something could not be graded
    assert "could not grade" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["alice"]["status"] == "error" and "not valid JSON" in rows["alice"]["message"]
    assert rows["bob"]["status"] == "graded" and rows["bob"]["score"] == "2"


def test_unknown_lesson_is_reported(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print('hello')"))
    path = tmp_path / "homework.ipynb"
    nbformat.write(nb, str(path))
    result = grade_submission(path)
    assert result.error and "which lesson" in result.error


def test_an_answer_that_calls_a_failed_exercise_is_told_to_fix_that_one_first():
    from autograder import checks
    from autograder.grade import ExerciseResult, point_to_failed_helpers
    from shikumi.lang import speaking

    source = release.read_source(release.source_path(LESSON))
    exercises, lesson_checks = release.exercises(source), checks.for_lesson(LESSON)
    answers = {"count_ngrams": "def count_ngrams(tokens, n):\n    return {}\n",
               "conditional_prob": "def conditional_prob(counts, context, word):\n    return 0.5\n",
               "sentence_logprob": "def sentence_logprob(counts, sentence, n):\n"
                                   "    return sum(math.log(conditional_prob(counts, (a,), b)) for a, b in sentence)\n",
               "greedy_generate": "def greedy_generate(counts, context, n, max_words=20):\n    return [\n"}  # no parse

    def results(failed):
        return [ExerciseResult(e.number, e.grade_id, 0 if e.grade_id in failed else e.points, e.points, "Wrong.")
                for e in exercises]

    tests = results({"count_ngrams", "conditional_prob", "sentence_logprob", "greedy_generate"})
    point_to_failed_helpers(tests, exercises, lesson_checks, answers)
    out = {t.grade_id: t.output for t in tests}
    assert out["sentence_logprob"] == ("Wrong. This answer calls your conditional_prob (exercise 1.2), which did not "
                                       "pass: fix that first, and this one may pass too.")
    assert out["conditional_prob"] == out["greedy_generate"] == out["count_ngrams"] == "Wrong."

    tests = results({"sentence_logprob"})                     # its helper passed: its own mistake, no pointer
    point_to_failed_helpers(tests, exercises, lesson_checks, answers)
    assert all(t.output == "Wrong." for t in tests if t.score < t.max_score)

    with speaking("ja"):
        tests = results({"conditional_prob", "sentence_logprob"})
        point_to_failed_helpers(tests, exercises, lesson_checks, answers)
    assert next(t.output for t in tests if t.grade_id == "sentence_logprob").endswith(
        "この答えは、合格しなかった conditional_prob（演習 1.2）を呼んでいます。先にそちらを直すと、こちらも合格するかもしれません。")


@pytest.mark.parametrize("lesson", ["00_first_neural_network", "01_ngram"])
def test_lesson_00_is_told_apart_like_any_other(tmp_path, lesson):
    """By its metadata, else its file name, else its exercises: "00_…" is a lesson like the others, and it does
    not swallow a lesson 01 notebook that lost both (lesson 00 comes first in the list)."""
    from autograder.grade import which_lesson

    nb = nbformat.read(str(ROOT / "lessons" / "ja" / f"{lesson}.ipynb"), as_version=4)
    assert which_lesson(nb, tmp_path / "homework.ipynb") == lesson
    del nb.metadata["shikumi"]
    assert which_lesson(nb, tmp_path / f"{lesson} (1).ipynb") == lesson
    assert which_lesson(nb, tmp_path / "homework.ipynb") == lesson

"""The similarity report: a renamed copy ranks above an independent solution, blanks are never similar,
everything a learner wrote is escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from autograder import similarity
from autograder.grade import ExerciseResult, SubmissionResult
from autograder.report import write_submission
from tests.conftest import ROOT

LESSON = "01_ngram"

ORIGINAL = '''
def conditional_prob(counts, context, word):
    """P(word | context) = C(context, word) / C(context)   (slide 24)"""
    context = tuple(context)
    total = sum(c for gram, c in counts.items() if gram[:-1] == context)
    if total == 0:
        return 0.0
    return counts[context + (word,)] / total
'''

RENAMED = '''
def conditional_prob(counts, context, word):
    """My own docstring, honest."""
    # work out the context first
    ctx = tuple(context)
    denominator = sum(n for ngram, n in counts.items() if ngram[:-1] == ctx)  # the count of the context
    if denominator == 0:
        return 0.0
    return counts[ctx + (word,)] / denominator
'''

INDEPENDENT = '''
def conditional_prob(counts, context, word):
    """P(word | context) = C(context, word) / C(context)   (slide 24)"""
    context = tuple(context)
    following = {}
    for gram, c in counts.items():
        if gram[:len(context)] == context and len(gram) == len(context) + 1:
            following[gram[-1]] = following.get(gram[-1], 0) + c
    if not following:
        return 0.0
    return following.get(word, 0) / sum(following.values())
'''


def stub(lang="en"):
    from shikumi.course import release

    source = release.read_source(release.source_path(LESSON, ROOT))
    return next(c.source for c in release.build_lesson(source, lang).cells
                if release.is_answer_cell(c) and release.grade_id(c) == "conditional_prob")


def test_a_renamed_copy_ranks_above_an_independent_solution():
    answers = {LESSON: {"ann": {"conditional_prob": ORIGINAL}, "ben": {"conditional_prob": RENAMED},
                        "cat": {"conditional_prob": INDEPENDENT}}}
    pairs = similarity.most_similar(answers)[(LESSON, "conditional_prob")]
    assert (pairs[0].first, pairs[0].second) == ("ann", "ben")
    assert pairs[0].score == 1.0  # the same code up to names, comments and docstrings
    others = {(p.first, p.second): p.score for p in pairs[1:]}
    assert others[("ann", "cat")] < 0.5 and others[("ben", "cat")] < 0.5


def test_blank_answers_are_not_similar():
    """Two learners who wrote nothing (the stub, in either edition) or only a line are no pair."""
    answers = {LESSON: {"ann": {"conditional_prob": stub("en")}, "ben": {"conditional_prob": stub("ja")},
                        "cat": {"conditional_prob": stub("en").replace("raise", "return 0.0  #")},
                        "dan": {"conditional_prob": "def conditional_prob(counts, context, word):\n    return 0.0\n"},
                        "eve": {"conditional_prob": "this is not python ("}}}
    assert similarity.most_similar(answers)[(LESSON, "conditional_prob")] == []
    # without removing the stub's own code, the two blanks would be the same answer
    everyone = {LESSON: {"ann": {"conditional_prob": stub("en")}, "ben": {"conditional_prob": stub("en")}}}
    no_stub = similarity.most_similar(everyone, stub_prints={LESSON: {"conditional_prob": {("nothing",)}}})
    assert no_stub[(LESSON, "conditional_prob")][0].score == 1.0


def write_result(out, student, answers):
    res = SubmissionResult(submission=f"{student}.ipynb", student_id=student, lesson=LESSON, max_score=2,
                           tests=[ExerciseResult("1.2", "conditional_prob", 2, 2, "ok")], score=2, answers=answers)
    path = out / student.replace("<", "_").replace(">", "_").replace("/", "_") / f"{LESSON}.json"
    write_submission(res, path, "hash")
    assert json.loads(path.read_text(encoding="utf-8"))["extra_data"]["answers"] == answers


def test_the_report_escapes_what_learners_wrote(tmp_path):
    out = tmp_path / "grades"
    write_result(out, "<script>alert(1)</script>", {"conditional_prob": ORIGINAL + "\n# </pre><img src=x>\n"})
    write_result(out, "ben", {"conditional_prob": RENAMED})
    proc = subprocess.run([sys.executable, "-m", "shikumi", "similarity", str(out)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": f"{ROOT / 'lib'}:{ROOT}"})
    assert proc.returncode == 0, proc.stderr
    assert "1.00  01_ngram  conditional_prob" in proc.stdout
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;/pre&gt;&lt;img src=x&gt;" in page
    assert "<script>" not in page and "<img" not in page

"""Feedback in the learner's language: a submission of the Japanese edition is told everything in Japanese, the
English edition exactly what it was told before."""

from __future__ import annotations

import re
import threading

import nbformat
import pytest

from autograder import grade as grading
from autograder import report
from autograder.grade import ExerciseResult, SubmissionResult, which_language
from autograder.language import current, say, speaking
from shikumi import release
from tests.conftest import ROOT, lesson_names

# The mark of the course's Japanese, a sentence that ends politely (です。ます。ください。…): in every Japanese
# message, in no English one. Kana alone would not do: the inputs the messages quote are often Japanese words
# (むかし, 行きました, 。).
POLITE = re.compile("(です|ます|ました|ません|ください|でした)([。？）]|$)")
# English words no Japanese message may keep (code and the quoted inputs aside, none of them occurs there).
ENGLISH = re.compile(r"\b(expected|got|returned|should|instead|forgot|forget|Did you|did you|checks passed)\b")


def japanese(message: str) -> bool:
    return bool(POLITE.search(message)) and not ENGLISH.search(message)


def english(message: str) -> bool:
    return not POLITE.search(message)


# -- the mechanism ------------------------------------------------------------------------------------------

def test_say_speaks_english_unless_told_otherwise():
    assert current() == "en" and say("yes", "はい") == "yes"
    with speaking("ja"):
        assert current() == "ja" and say("yes", "はい") == "はい"
        with speaking("en"):
            assert say("yes", "はい") == "yes"
        assert say("yes", "はい") == "はい"
    assert say("yes", "はい") == "yes"
    with pytest.raises(ValueError, match="language must be one of"):
        with speaking("fr"):
            pass


def test_each_thread_keeps_its_own_language():
    """Workers grade several submissions at once (`--workers N`): one learner's Japanese is not another's."""
    heard = []
    with speaking("ja"):
        worker = threading.Thread(target=lambda: heard.append(say("yes", "はい")))
        worker.start()
        worker.join()
    assert heard == ["yes"]


@pytest.mark.parametrize("lesson", lesson_names())
def test_the_edition_is_known_even_when_its_metadata_is_lost(lesson):
    source = release.read_source(ROOT / "solutions" / f"{lesson}.ipynb")
    assert which_language(source) == "en"  # the bilingual source: the instructor's, English
    for lang in release.LANGS:
        edition = release.build_lesson(source, lang)
        assert which_language(edition) == lang
        del edition.metadata["shikumi"]  # saved by a tool that drops what it does not know
        assert which_language(edition) == lang, "read from the prose"


def test_a_notebook_without_prose_is_english():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print('こんにちは')"))
    assert which_language(nb) == "en"


# -- the pages the grader writes ----------------------------------------------------------------------------

def _result(lang: str, **fields) -> SubmissionResult:
    return SubmissionResult(submission="s.ipynb", student_id="aki", lesson="01_ngram", score=2, max_score=4, seed=7,
                            language=lang, tests=[ExerciseResult("1.1", "count_ngrams", 2, 2, "ok"),
                                                  ExerciseResult("1.2", "conditional_prob", 0, 2, "…")], **fields)


def test_feedback_page_and_results_in_japanese():
    page = report.feedback_html(_result("ja", note="カーネルが止まりました"))
    assert '<html lang="ja">' in page
    assert "<th>演習</th><th>点数</th><th>フィードバック</th>" in page
    assert "演習 1.1" in page and "Exercise" not in page and "lesson" not in page
    assert "Shikumi の自動採点で採点しました（シード 7）" in page
    data = _result("ja", note="カーネルが止まりました").to_gradescope()
    assert data["output"] == "レッスン 01_ngram：2 / 4（カーネルが止まりました）"
    assert [t["name"] for t in data["tests"]] == ["演習 1.1：count_ngrams", "演習 1.2：conditional_prob"]
    assert data["extra_data"]["language"] == "ja"
    assert "<strong>採点できませんでした：</strong>" in report.feedback_html(_result("ja", error="…"))


def test_feedback_page_and_results_in_english_are_as_before():
    page = report.feedback_html(_result("en", note="the kernel died"))
    assert '<html lang="en">' in page and "<th>exercise</th><th>points</th><th>feedback</th>" in page
    assert "Exercise 1.1" in page and "aki — lesson 01_ngram" in page
    assert "Graded by the Shikumi autograder (seed 7). Your answers were run on inputs chosen for this\n" in page
    data = _result("en", note="the kernel died").to_gradescope()
    assert data["output"] == "Lesson 01_ngram: 2 / 4 (the kernel died)"
    assert data["tests"][0]["name"] == "Exercise 1.1: count_ngrams"
    assert data["extra_data"]["language"] == "en"
    assert "<strong>Could not grade:</strong>" in report.feedback_html(_result("en", error="…"))


def test_the_graders_own_messages_in_japanese():
    with speaking("ja"):
        assert japanese(grading.stopped_by(grading.KERNEL_DIED, 64))
        assert japanese(grading.stopped_by(grading.TOO_MANY_PROCESSES, 64))
    with speaking("en"):
        assert grading.stopped_by(grading.TOO_MANY_PROCESSES, 64).startswith(
            "Your code started too many processes (at most 64 may run at once), so the exercises after it")

"""Feedback in the learner's language: a submission of the Japanese edition is told everything in Japanese, the
English edition exactly what it was told before."""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import json
import random
import re
import threading

import nbformat
import pytest
import torch

from autograder import checks as checks_registry
from autograder import grade as grading
from autograder import report, sandbox, verify
from autograder.batch import grade_batch
from autograder.grade import ExerciseResult, SubmissionResult, which_language
from autograder.plain import Unsupported, encode
from shikumi.course import release
from shikumi.lang import current, speaking, tr
from shikumi.ngram import conditional_prob
from tests.conftest import ROOT, lesson_names, make_submission

# The mark of the course's Japanese, a sentence that ends politely (です。ます。ください。…): in every Japanese
# message, in no English one. Kana alone would not do: the inputs the messages quote are often Japanese words
# (むかし, 行きました, 。).
POLITE = re.compile("(です|ます|ました|ません|ください|でした)(か？|[。？）]|$)")
# English words no Japanese message may keep (code and the quoted inputs aside, none of them occurs there).
ENGLISH = re.compile(r"\b(expected|got|returned|should|instead|forgot|forget|Did you|did you|checks passed)\b")


def japanese(message: str) -> bool:
    return bool(POLITE.search(message)) and not ENGLISH.search(message)


def english(message: str) -> bool:
    return not POLITE.search(message)


# -- the mechanism ------------------------------------------------------------------------------------------

def test_say_speaks_english_unless_told_otherwise():
    assert current() == "en" and tr("yes", "はい") == "yes"
    with speaking("ja"):
        assert current() == "ja" and tr("yes", "はい") == "はい"
        with speaking("en"):
            assert tr("yes", "はい") == "yes"
        assert tr("yes", "はい") == "はい"
    assert tr("yes", "はい") == "yes"
    with pytest.raises(ValueError, match="language must be one of"):
        with speaking("fr"):
            pass


def test_each_thread_keeps_its_own_language():
    """Workers grade several submissions at once (`--workers N`): one learner's Japanese is not another's."""
    heard = []
    with speaking("ja"):
        worker = threading.Thread(target=lambda: heard.append(tr("yes", "はい")))
        worker.start()
        worker.join()
    assert heard == ["yes"]


@pytest.mark.parametrize("lesson", lesson_names())
def test_the_edition_is_known_even_when_its_metadata_is_lost(lesson):
    source = release.read_source(release.source_path(lesson))
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
    limits = sandbox.Limits(max_processes=64)
    with speaking("ja"):
        for lost in (grading.KERNEL_DIED, grading.TOO_MANY_PROCESSES, grading.TOO_MUCH_MEMORY):
            assert japanese(grading.stopped_by(lost, limits))
    with speaking("en"):
        assert grading.stopped_by(grading.TOO_MANY_PROCESSES, limits).startswith(
            "Your code started too many processes (at most 64 may run at once), so the exercises after it")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_score_message_in_the_submissions_language(lang):
    """score_exercise's own words, for each way an exercise can go (no kernel needed: the records are made up)."""
    check = checks_registry.for_lesson("01_ngram")["conditional_prob"]
    exercise = release.Exercise("1.2", "conditional_prob", 2)
    cases = check.cases(random.Random(0))
    right = [{"value": encode(conditional_prob(*case.args))} for case in cases]
    zero = [{"value": encode(0.0)} for _ in cases]
    ok = "def conditional_prob(counts, context, word): ..."

    def record(outcomes, flags=()):  # as grade.Run keeps what a probe sent
        return {"ran": True, "flags": set(flags),
                "cases": {i: {"finished": "started" not in o, **o} for i, o in enumerate(outcomes)}}

    outcomes = {  # (answer, record, the error its cell raised)
        "deleted": (None, None, None), "stub": ("raise NotImplementedError", None, None),
        "stopped": (ok, None, "SyntaxError: invalid syntax"),
        "library": (ok, record(right, flags=["shikumi.ngram:conditional_prob"]), None),
        "timeout": (ok, record([{"started": True}]), None),
        "still a stub": (ok, record([{"error": "NotImplementedError", "message": ""}]), None),
        "raised": (ok, record([{"error": "KeyError", "message": "('は',)"}]), None),
        "undefined": (ok, record([{"error": "NameError", "message": "…"}]), "IndentationError: …"),
        "unexpected": (ok, record([{"value": encode({"a": 1})}]), None),
        "edge cases only": (ok, record(zero), None),
        "all right": (ok, record(right), None),
        "half": (ok, record(right[:2] + zero[2:]), None),
    }

    def score(record, answer, stubs, note, error):
        verdicts = {i: verify.verdict(check, cases[i], o["value"])
                    for i, o in (record or {"cases": {}})["cases"].items() if "value" in o}
        return grading.score_exercise(exercise, check, cases, record, verdicts, answer, stubs, note, error, 5).output

    with speaking(lang):
        said = {what: score(record, answer, {"raise NotImplementedError"}, "", error)
                for what, (answer, record, error) in outcomes.items()}
        _, notes = grading.answers_of(_without_metadata(), [exercise])  # the cell is found by its def line
        said["found"] = score(record(right), ok, set(), notes["conditional_prob"], None)
    for what, text in said.items():
        assert (japanese if lang == "ja" else english)(text), (what, text)


def _without_metadata():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("def conditional_prob(counts, context, word):\n    return 0.5\n"))
    return nb


# -- end to end -----------------------------------------------------------------------------------------------

LESSON = "01_ngram"
WRONG_COND = """
def conditional_prob(counts, context, word):
    return counts[tuple(context) + (word,)] / sum(counts.values())
"""


def test_a_class_in_both_languages(tmp_path, solutions):
    """One Japanese and one English submission, graded side by side by two workers, each with a wrong answer
    (divided by all n-grams) and a deleted answer cell (greedy_generate)."""
    answers = {"count_ngrams": solutions[LESSON]["count_ngrams"], "conditional_prob": WRONG_COND}

    def delete_greedy(nb):
        nb.cells = [c for c in nb.cells if release.grade_id(c) != "greedy_generate"]

    cls = tmp_path / "class"
    cls.mkdir()
    for lang in ("ja", "en"):
        make_submission(cls, LESSON, answers, lang=lang, name=f"{lang}_learner.ipynb", edit=delete_greedy)
    out = tmp_path / "grades"
    results, _ = grade_batch([cls], out, workers=2, progress=False)
    by_lang = {r.student_id.split("_")[0]: r for r in results}
    assert {lang: r.score for lang, r in by_lang.items()} == {"ja": 2, "en": 2}

    ja = json.loads((out / "ja_learner" / f"{LESSON}.json").read_text(encoding="utf-8"))
    en = json.loads((out / "en_learner" / f"{LESSON}.json").read_text(encoding="utf-8"))
    ja_out, en_out = ({t.grade_id: t.output for t in by_lang[lang].tests} for lang in ("ja", "en"))
    assert [t["output"] for t in ja["tests"]] == list(ja_out.values())
    assert [t["output"] for t in en["tests"]] == list(en_out.values())
    assert ja["extra_data"]["language"] == "ja" and en["extra_data"]["language"] == "en"

    assert ja_out["count_ngrams"] == "5 個のチェックすべてに合格しました。"
    assert "C(context) ではなく、すべての n-gram の数で割っていませんか？" in ja_out["conditional_prob"]
    assert "ノートブックに greedy_generate の答えのセルがありません" in ja_out["greedy_generate"]
    assert "未解答" in ja_out["smoothed_prob"]
    assert all(japanese(text) for text in ja_out.values()), ja_out
    assert ja["output"] == "レッスン 01_ngram：2 / 10"
    page = (out / "ja_learner" / f"{LESSON}.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in page and "<th>演習</th>" in page and "C(context) ではなく" in page

    assert en_out["count_ngrams"] == "All 5 checks passed."
    assert "Did you divide by the number of all n-grams instead of C(context)?" in en_out["conditional_prob"]
    assert en_out["greedy_generate"].startswith("Not attempted: the answer cell for greedy_generate is missing")
    assert all(english(text) for text in en_out.values()), en_out
    assert en["output"] == "Lesson 01_ngram: 2 / 10"
    page = (out / "en_learner" / f"{LESSON}.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<th>exercise</th>" in page and "instead of C(context)" in page


# -- the hidden checks, lesson by lesson ------------------------------------------------------------------------
# Each lesson's own tests feed its checks the classic mistakes, and assert the English hints. Here those same
# tests run again while every verify() also answers in Japanese: each message must come in both languages.

MISTAKE_TESTS = {  # lesson: (the test module that feeds its checks wrong answers, the names of those tests)
    "00_first_neural_network": ("tests.test_checks_l00", r"^test_(predict|mse|gradient_step|ce|mlp|returning)_"),
    "01_ngram": ("tests.test_checks_l01", r"^test_(count|cond|smoothed|logprob|greedy|returning)_"),
    "02_attention": ("tests.test_attention", r"^test_(softmax|weights|causal_(float|upper|without|swapped)|split|merge"
                                             r"|returning|mhsa)_"),
    "03_transformer": ("tests.test_transformer", r"_mistakes_get_their_hint$"),
    "04_gpt": ("tests.test_gpt", r"_mistakes_get_their_hint$|^test_probs_top_k"),
    "05_autoencoder": ("tests.test_autoencoder", r"^test_classic_mistakes_get_their_hint$|^test_kl_check_catches"),
    "06_clip": ("tests.test_clip", r"_hints$"),
    "07_diffusion": ("tests.test_diffusion", r"_hints$"),
    "08_text_to_image": ("tests.test_checks_l08", r"_hints$|^test_img2img_wrong_answers"),
    "09_tokens": ("tests.test_checks_l09", r"^test_(count|merge|learn|encode|returning)_"),
    "10_chatgpt": ("tests.test_checks_l10", r"^test_(masking|logprob|reward|dpo|returning)_"),
}
GENERIC_WRONG = [None, "0.5", Unsupported("function", "<lambda>"), [1.5, 2.5], torch.zeros(2, 3)]
PARAM = type(pytest.param(0))


def _bilingual(verify, said: list):
    """verify, answering as before (in English), that also records what it says in both languages."""
    def both(case, value):
        message = verify(case, value)
        with speaking("ja"):
            said.append((verify.__name__, message, verify(case, value)))
        return message
    return both


def _parametrized(test) -> list[dict]:
    """The keyword arguments of every run of a test, from its @pytest.mark.parametrize marks."""
    grids = []
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize":
            names, rows = mark.args[0], mark.args[1]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            rows = [row.values if isinstance(row, PARAM) else (row,) if len(names) == 1 else row for row in rows]
            grids.append([dict(zip(names, row)) for row in rows])
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*grids)]


@pytest.mark.parametrize("lesson", sorted(MISTAKE_TESTS))
def test_every_hidden_check_answers_in_both_languages(lesson, monkeypatch):
    module = importlib.import_module(f"autograder.checks.l{lesson}")
    verify_names = {check.verify.__name__ for check in checks_registry.for_lesson(lesson).values()}
    said = []
    for name, value in list(vars(module).items()):  # the verify functions, wherever the tests call them from
        if name.endswith("_verify") and callable(value):
            monkeypatch.setattr(module, name, _bilingual(value, said))
    for check in checks_registry.for_lesson(lesson).values():
        monkeypatch.setattr(check, "verify", _bilingual(check.verify, said))

    module_name, pattern = MISTAKE_TESTS[lesson]
    ran = 0
    for name, test in vars(importlib.import_module(module_name)).items():
        if name.startswith("test_") and re.search(pattern, name):
            for kwargs in _parametrized(test):
                if set(inspect.signature(test).parameters) <= set(kwargs):  # no fixtures needed
                    test(**kwargs)
                    ran += 1
    for check in checks_registry.for_lesson(lesson).values():  # and the wrong kinds of value any exercise may get
        for case in check.cases(random.Random(0)):
            for value in GENERIC_WRONG if case.build is None else ():
                try:
                    check.verify(case, value)
                except Exception:
                    pass  # the grader says "returned something unexpected", in both languages

    messages = [(where, en, ja) for where, en, ja in said if en is not None or ja is not None]
    assert ran >= 3 and {where for where, _, _ in messages} == verify_names, (ran, len(messages))
    for where, en, ja in messages:
        assert en is not None and ja is not None, (where, en, ja)
        assert japanese(ja), (where, ja)
        assert english(en), (where, en)


def _excused(node, parent: dict) -> bool:
    """Is this string inside tr(…)/more(…) as the English, a docstring, or module-level data?"""
    while node in parent:
        up = parent[node]
        if isinstance(up, ast.Call) and getattr(up.func, "id", None) in ("tr", "more") and up.args[:1] == [node]:
            return True
        if isinstance(up, ast.Expr) and up.value is node or isinstance(up, ast.Module) and isinstance(node, ast.Assign):
            return True
        node = up
    return False


def test_no_english_prose_outside_say_in_the_checks():
    """Whatever a check says is written in both languages: every English sentence in autograder/checks/ is the
    first argument of tr() or more(), a docstring, or module-level data (PE_HINTS, whose Japanese is PE_HINTS_JA;
    lesson 04's Shakespeare)."""
    prose = re.compile(r"[A-Za-z]+,? [a-z]+ [a-z]+")
    bare = []
    for path in sorted((ROOT / "autograder" / "checks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        bare += [f"{path.name}: {node.value!r}" for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and prose.search(node.value)
                 and not _excused(node, parent)]
    for_authors = ["__init__.py: ': kind must be one of '", "__init__.py: ': each twin is \"module:qualname\", not '",
                   "__init__.py: '.py declares no check (@check(…) on a verify function)'",
                   "__init__.py: ' is declared twice in '", "__init__.py: 'no hidden checks for lesson '"]
    assert bare == for_authors, bare  # those are for the instructor, or whoever writes a check

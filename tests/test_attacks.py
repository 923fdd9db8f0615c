"""Hostile submissions. The rule: no attack earns a point more than the same notebook with that exercise left
blank, nothing escapes the sandbox, and the grader never crashes."""

from __future__ import annotations

import socket
import threading

import psutil
import pytest

from autograder import sandbox
from autograder.grade import grade_submission
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"
needs_namespaces = pytest.mark.skipif(sandbox.namespace_mode() is None,
                                      reason="this machine cannot create Linux namespaces (unshare)")


def scores(result):
    return {t.grade_id: t.score for t in result.tests}


def with_answers(solutions, **attacks):
    answers = dict(solutions[LESSON])
    answers.update(attacks)
    return answers


@needs_namespaces
def test_sandbox_attacks(tmp_path, solutions):
    """Reading the solutions and hidden checks, copying a classmate, the network, writing outside the run."""
    classmates = tmp_path / "class"
    classmates.mkdir()
    make_submission(classmates, LESSON, solutions[LESSON], name="classmate.ipynb")
    grades = tmp_path / "grades"
    grades.mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(60)
    port = listener.getsockname()[1]
    connections = []
    threading.Thread(target=lambda: connections.append(_accept(listener)), daemon=True).start()

    attacks = {
        # the complete solution is on the instructor's disk: find it and run it
        "count_ngrams": f'''
import json
src = json.load(open({str(ROOT / "solutions" / "01_ngram.ipynb")!r}))
for cell in src["cells"]:
    if "def count_ngrams" in "".join(cell["source"]):
        exec("".join(cell["source"]))
''',
        # the hidden checks compute the right answer: borrow them
        "conditional_prob": f'''
exec(open({str(ROOT / "autograder" / "checks" / "l01_ngram.py")!r}).read())
''',
        # copy a classmate's answer from the submissions folder
        "smoothed_prob": f'''
import json
nb = json.load(open({str(classmates / "classmate.ipynb")!r}))
for cell in nb["cells"]:
    if "def smoothed_prob" in "".join(cell["source"]):
        exec("".join(cell["source"]))
''',
        # phone home for the answer
        "sentence_logprob": f'''
import socket
socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"hello")
def sentence_logprob(counts, sentence, n):
    return 0.0
''',
        # leave something behind: in the grades folder, the course, the library
        "greedy_generate": f'''
for target in [{str(grades / "forged.json")!r}, {str(ROOT / "lib" / "shikumi" / "forged.py")!r},
               {str(ROOT / "forged.txt")!r}]:
    try:
        open(target, "w").write("{{}}")
    except OSError:
        pass
def greedy_generate(counts, context, n, max_words=20):
    return []
''',
    }
    path = make_submission(tmp_path, LESSON, with_answers(solutions, **attacks))
    result = grade_submission(path, hide=[classmates, grades])
    assert result.error is None
    assert scores(result) == {g: 0 for g in attacks}, [t.output for t in result.tests]
    assert connections in ([], [None])  # nobody connected
    for forged in (grades / "forged.json", ROOT / "lib" / "shikumi" / "forged.py", ROOT / "forged.txt"):
        assert not forged.exists()


def _accept(listener):
    try:
        return listener.accept()[0].recv(10)
    except OSError:
        return None


def test_kernel_and_display_attacks(tmp_path, solutions):
    """sys.exit, hooks that hide errors, objects that equal everything, bombs, blanking the cells after."""
    attacks = {
        "count_ngrams": '''
import sys
def count_ngrams(tokens, n):
    return {}
sys.exit(0)
''',
        "conditional_prob": '''
ip = get_ipython()
ip.set_custom_exc((Exception,), lambda *args, **kwargs: None)
ip.showtraceback = lambda *args, **kwargs: None
import math, numpy, torch
math.isclose = numpy.allclose = torch.allclose = lambda *args, **kwargs: True
class Anything(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
def conditional_prob(counts, context, word):
    return Anything(0.123)
''',
        "smoothed_prob": '''
def smoothed_prob(counts, context, word, k, vocab_size):
    hog = bytearray(64 * 2**30)  # a memory bomb: 64 GB
    return 0.5
''',
        "sentence_logprob": '''
import subprocess
children = [subprocess.Popen(["sleep", "1000"]) for _ in range(20)]
with open("big.bin", "wb") as f:  # fill the disk
    try:
        for _ in range(2000):
            f.write(b"x" * 2**20)
    except OSError:
        pass
print("y" * 2_000_000)  # a huge output
def sentence_logprob(counts, sentence, n):
    return float("nan")
''',
        "greedy_generate": '''
get_ipython().input_transformers_cleanup.append(lambda lines: [])  # every later cell runs as empty
def greedy_generate(counts, context, n, max_words=20):
    return None
''',
    }
    path = make_submission(tmp_path, LESSON, with_answers(solutions, **attacks))
    result = grade_submission(path, cell_timeout=60)
    assert result.error is None
    assert scores(result) == {g: 0 for g in attacks}, [t.output for t in result.tests]
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "1000"]]
    assert not leftovers, "processes started by a submission outlive the run"


def test_killing_the_kernel_costs_only_that_exercise(tmp_path, solutions):
    path = make_submission(tmp_path, LESSON, with_answers(solutions, count_ngrams="import os\nos._exit(0)\n"))
    result = grade_submission(path)
    assert result.error is None
    assert scores(result) == {"count_ngrams": 0, "conditional_prob": 2, "smoothed_prob": 2,
                              "sentence_logprob": 2, "greedy_generate": 2}
    assert "stopped the Python kernel" in result.tests[0].output


def test_using_the_library_solution_is_flagged(tmp_path, solutions):
    answers = with_answers(
        solutions,
        count_ngrams="from shikumi.ngram import count_ngrams\n",
        conditional_prob=("import importlib\n"
                          "def conditional_prob(counts, context, word):\n"
                          "    return getattr(importlib.import_module('shikumi.ngram'), 'conditional_prob')"
                          "(counts, context, word)\n"),
    )
    result = grade_submission(make_submission(tmp_path, LESSON, answers))
    tests = {t.grade_id: t for t in result.tests}
    for gid in ("count_ngrams", "conditional_prob"):
        assert tests[gid].score == 0 and "library's own solution" in tests[gid].output
    assert tests["smoothed_prob"].score == 2

"""Hostile submissions. The rule: no attack earns a point more than the same notebook with that exercise left
blank, nothing escapes the sandbox, and the grader never crashes."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import nbformat
import psutil
import pytest

from autograder import grade as grading
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


FORK_BOMB = '''
import os, time
parent = os.getpid()
try:
    for _ in range(8):  # every process forks again, 8 times: 2**8 = 256 processes if nothing stops it
        os.fork()
except OSError:
    pass  # the limit refused a fork: carry on regardless
finally:
    if os.getpid() != parent:
        os.execvp("sleep", ["sleep", "301"])  # the children stay (301 s at most): only the grader can end them
time.sleep(120)  # and so does the parent: the run ends early only if the grader stops it
'''


@pytest.mark.parametrize("mechanism", ["cgroup", "watchdog"])
def test_a_fork_bomb_is_stopped_within_seconds(tmp_path, solutions, monkeypatch, mechanism):
    """Root ignores RLIMIT_NPROC: the limit is a pids cgroup where the machine has one, else a watchdog that
    counts the run's processes. Bounded on purpose (256 processes at most), in case the limit failed."""
    if mechanism == "cgroup" and sandbox._pids_root() is None:
        pytest.skip("this machine lets the grader create no pids cgroup")
    if mechanism == "watchdog":
        monkeypatch.setattr(sandbox, "_pids_root", lambda: None)
    runs, execute = [], grading.execute

    def timed_execute(*args, **kwargs):
        started = time.perf_counter()
        outcome = execute(*args, **kwargs)
        runs.append(time.perf_counter() - started)
        return outcome

    monkeypatch.setattr(grading, "execute", timed_execute)
    answers = with_answers(solutions, count_ngrams=FORK_BOMB + solutions[LESSON]["count_ngrams"])
    result = grade_submission(make_submission(tmp_path, LESSON, answers), max_processes=64)
    assert result.error is None
    assert scores(result) == {"count_ngrams": 0, "conditional_prob": 2, "smoothed_prob": 2,
                              "sentence_logprob": 2, "greedy_generate": 2}, [t.output for t in result.tests]
    message = result.tests[0].output
    assert "too many processes (at most 64" in message and "\n" not in message
    assert len(runs) == 2 and runs[0] < 60, runs  # stopped, not left to sleep for 120 s
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "301"]]
    assert not leftovers, "processes started by the bomb outlive the run"
    assert subprocess.run(["true"]).returncode == 0  # the machine can still start a process


LOOK_AROUND = '''
import os, sys
from collections import Counter


def _look_around():
    """Whatever would tell this kernel that it is being graded: names, modules, history, environment, paths."""
    words = ("probe", "harness", "grader", "grading", "autograder", "papermill")
    ip = get_ipython()
    seen = [f"name {n}" for n in {*globals(), *dir(), *ip.user_ns, *dir(__builtins__)}
            if any(w in n.lower() for w in words)]
    seen += [f"module {m}" for m in sys.modules if m.split(".")[0] in ("autograder", "papermill", "nbclient")]
    seen += [f"history {src[:60]!r}" for src in ip.user_ns["In"] + [ip.user_ns.get("_i", "")]
             if "_look_around" not in src and any(w in src.lower() for w in words)]
    seen += [f"env {k}" for k, v in os.environ.items()
             if k.startswith(("SHIKUMI", "PYTEST", "PAPERMILL")) or any(w in f"{k}={v}".lower() for w in words)]
    seen += [f"path {p}" for p in (os.getcwd(), os.path.expanduser("~")) if any(w in p.lower() for w in words)]
    return seen


_seen_by_the_cell = _look_around()


def count_ngrams(tokens, n):
    seen = _seen_by_the_cell + _look_around()  # when the cell ran, and now, while its function is checked
    if seen:
        print("seen:", seen)
        return Counter()  # caught being graded: answer wrong
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
'''


def test_the_kernel_cannot_tell_it_is_being_graded(tmp_path, solutions):
    """No grader name in the namespace, no grader module, no grader cell in the history, nothing in the
    environment or the working folder's name. (What remains detectable: docs/instructor-guide.md.)"""
    executed = tmp_path / "executed.ipynb"
    result = grade_submission(make_submission(tmp_path, LESSON, {"count_ngrams": LOOK_AROUND}), executed_to=executed)
    printed = [o.get("text", "") for c in nbformat.read(str(executed), as_version=4).cells
               for o in c.get("outputs", []) if "seen:" in o.get("text", "")]
    assert scores(result)["count_ngrams"] == 2, printed or result.tests[0].output

"""Hostile submissions. The rules: no attack earns a point more than the same notebook with that exercise left
blank; nothing a run does reaches another learner's grade, another learner's answers or the host; the grader
and the batch never crash. Each test here failed on the grader before it ran in a bubblewrap world of its own
(issue 12), and passes now."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder import sandbox
from autograder.grade import grade_submission
from tests.conftest import ROOT, make_submission

LESSON = "01_ngram"
needs_sandbox = pytest.mark.skipif(sandbox.unavailable() is not None,
                                   reason=f"no sandbox on this machine: {sandbox.unavailable()}")
pytestmark = needs_sandbox


def scores(result):
    return {t.grade_id: t.score for t in result.tests}


def with_answers(solutions, **attacks):
    answers = dict(solutions[LESSON])
    answers.update(attacks)
    return answers


def cli(*args):
    return subprocess.Popen([sys.executable, "-m", "shikumi", "grade", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ------------------------------------------------------------------------------------------------
# The run's world: nothing of the host, nothing of the course but the library
# ------------------------------------------------------------------------------------------------

def test_sandbox_attacks(tmp_path, solutions):
    """Reading the solutions, the hidden checks or .git, copying a classmate, the network, writing outside."""
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
        # the complete solution is on the instructor's disk, and in git: find it and run it
        "count_ngrams": f'''
import json, subprocess
for path in [{str(ROOT / "solutions" / "01_ngram.py")!r}]:
    try:
        src = json.load(open(path))
    except OSError:
        continue
    for cell in src["cells"]:
        if "def count_ngrams" in "".join(cell["source"]):
            exec("".join(cell["source"]))
try:
    exec(subprocess.run(["git", "-C", {str(ROOT)!r}, "show", "HEAD:solutions/01_ngram.ipynb"],
                        capture_output=True, text=True).stdout and "")
    open({str(ROOT / ".git" / "HEAD")!r}).read()
    def count_ngrams(tokens, n):
        from collections import Counter
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
except OSError:
    pass
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
        # leave something behind: in the grades folder, the course, the library, root's files
        "greedy_generate": f'''
for target in [{str(grades / "forged.json")!r}, {str(ROOT / "lib" / "shikumi" / "forged.py")!r},
               {str(ROOT / "forged.txt")!r}, "/etc/forged", "/usr/local/bin/forged", "/root/forged",
               "/proc/sys/kernel/core_pattern"]:
    try:
        open(target, "w").write("{{}}")
    except OSError:
        pass
def greedy_generate(counts, context, n, max_words=20):
    return []
''',
    }
    path = make_submission(tmp_path, LESSON, with_answers(solutions, **attacks))
    result = grade_submission(path)
    assert result.error is None
    assert scores(result) == {g: 0 for g in attacks}, [t.output for t in result.tests]
    assert connections in ([], [None])  # nobody connected
    for forged in (grades / "forged.json", ROOT / "lib" / "shikumi" / "forged.py", ROOT / "forged.txt",
                   Path("/etc/forged"), Path("/usr/local/bin/forged"), Path("/root/forged")):
        assert not forged.exists()
    assert Path("/proc/sys/kernel/core_pattern").read_text().strip() != "{}"


def _accept(listener):
    try:
        return listener.accept()[0].recv(10)
    except OSError:
        return None


MOUNTS = '''
def count_ngrams(tokens, n):
    from collections import Counter
    seen = open("/proc/self/mounts").read() + " ".join(__import__("os").listdir("/"))
    if any(word in seen for word in ("solutions", "autograder", "grades", "submissions", ".git", "shikumi-hidden")):
        return Counter()  # the run can name what it must not see
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
'''


def test_the_run_cannot_even_name_what_it_must_not_see(tmp_path):
    """Before, hidden folders were covered by empty mounts that /proc/self/mounts listed by name."""
    result = grade_submission(make_submission(tmp_path, LESSON, {"count_ngrams": MOUNTS}))
    assert scores(result)["count_ngrams"] == 2, result.tests[0].output


WHO_AM_I = '''
import os, time
open("/dev/shm/marker-{marker}", "w").write("here")
time.sleep(4)  # long enough for the test to look at this process from the host
def count_ngrams(tokens, n):
    return {{}}
'''


def test_the_run_is_never_root_on_the_host(tmp_path):
    """When the grader runs as root, the learner's processes run as an unprivileged uid of their own."""
    marker = uuid.uuid4().hex[:8]
    uids = []

    def look():  # at this grading's kernel only: other tests (and other suites) run kernels on this host too
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not uids:
            for p in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "ipykernel" in " ".join(p.cmdline()):
                        uids.append(p.uids().real)
            time.sleep(0.2)

    watcher = threading.Thread(target=look, daemon=True)
    watcher.start()
    grade_submission(make_submission(tmp_path, LESSON, {"count_ngrams": WHO_AM_I.format(marker=marker)}))
    watcher.join()
    assert uids and 0 not in uids, uids
    if os.geteuid() != 0:
        assert set(uids) == {os.geteuid()}


# ------------------------------------------------------------------------------------------------
# Two graders, two classes, one host
# ------------------------------------------------------------------------------------------------

HOSTILE = '''
import glob, json, os, subprocess, sys, threading, time, ctypes, socket

MARK = "{marker}"
found = []
# The test ends this process once the honest class is graded (by itself it ends after 300 s): until then the
# vandal below runs, so every honest run is graded under attack, however long it takes on a busy machine.
go_ahead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "go-ahead-" + MARK])

def vandal():  # until the go-ahead: read and overwrite every grading file it can find, anywhere it can reach
    while go_ahead.poll() is None:
        for pattern in ("/var/tmp/*/io/outputs/*.json", "/var/tmp/*/grading.ipynb", "/tmp/*/io/outputs/*.json",
                        "/tmp/**/*.ipynb", "/var/tmp/**/*.ipynb", "{honest}/**/*", "{grades}/**/*.json"):
            for path in glob.glob(pattern, recursive=True):
                try:
                    text = open(path).read()
                    if "SECRET" in text:
                        found.append(path)
                    if path.endswith(".json"):
                        open(path, "w").write('{{"grade_id": "x", "ran": true, "cases": []}}')
                except OSError:
                    pass
        time.sleep(0.2)

threading.Thread(target=vandal, daemon=True).start()
for where in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.getcwd()):
    try:
        open(os.path.join(where, "left-" + MARK), "w").write(MARK)
    except OSError:
        pass
try:  # a SysV shared-memory segment, never removed
    libc = ctypes.CDLL(None)
    libc.shmget(0x5A17 + {n}, 4096, 0o1666)
except Exception:
    pass
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
subprocess.Popen(["setsid", sys.executable, "-c", "import time; time.sleep(307)", "outlive-" + MARK],
                 start_new_session=True)  # a process meant to outlive the run
for link, target in (("io", "{grades}"), ("run", "{grades}"), ("outputs", "{honest}")):
    try:
        os.symlink(target, link)  # planted for a grader that follows paths in the run's folder
    except OSError:
        pass
go_ahead.wait()

def count_ngrams(tokens, n):
    from collections import Counter
    if found:
        print("found:", found)
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
'''

KILL_KERNEL = 'import os\nos._exit(1)\n'


def test_an_honest_and_a_hostile_class_graded_at_the_same_time(tmp_path, solutions):
    """Two `shikumi grade` processes on one host, two workers each. The hostile runs try to overwrite and read
    the other runs' files, plant symlinks and kill their kernel to be retried, and leave files, a shared-memory
    segment, a listener and a process behind. The honest grades are exact, no honest answer was read, and
    nothing of the hostile runs remains.

    The honest class is graded while both hostile runs are at work: it starts once both have started their
    go-ahead process, and the test ends those (the first run's and the retried run's) only after the honest
    `shikumi grade` has finished. (Before, the hostile runs worked for a fixed 20 s, and slept 22 s twice.)"""
    marker = uuid.uuid4().hex[:10]
    honest, hostile = tmp_path / "honest", tmp_path / "hostile"
    out_honest, out_hostile = tmp_path / "grades-honest", tmp_path / "grades-hostile"
    for folder in (honest, hostile):
        folder.mkdir()
    secret = {g: f"# SECRET {marker}\n" + src for g, src in solutions[LESSON].items()}
    make_submission(honest, LESSON, secret, name="ann.ipynb")
    make_submission(honest, LESSON, {g: secret[g] for g in ("count_ngrams", "conditional_prob")}, name="ben.ipynb")
    for i in range(2):
        attack = HOSTILE.format(marker=marker, n=i, honest=honest, grades=out_honest)
        make_submission(hostile, LESSON, with_answers(solutions, count_ngrams=attack,
                                                      conditional_prob=KILL_KERNEL if i else
                                                      solutions[LESSON]["conditional_prob"]),
                        name=f"mallory{i}.ipynb")

    def go_aheads():
        return [p for p in psutil.process_iter(["cmdline"]) if f"go-ahead-{marker}" in (p.info["cmdline"] or [])]

    hostile_grader = _Finished(cli(hostile, "--out", out_hostile, "--workers", "2"))
    deadline = time.monotonic() + 600
    while len(go_aheads()) < 2 and hostile_grader.running() and time.monotonic() < deadline:
        time.sleep(0.5)   # a look at every process on the host: not too often
    assert len(go_aheads()) == 2, "the two hostile runs never got to work: " + hostile_grader.stderr()[-3000:]
    honest_grader = _Finished(cli(honest, "--out", out_honest, "--workers", "2"))
    honest_grader.wait()
    assert go_aheads(), "the hostile runs stopped before the honest class was graded"
    while hostile_grader.running():   # the go-ahead, to the first runs and to mallory1's retried run
        for p in go_aheads():
            with contextlib.suppress(psutil.Error):
                p.kill()
        time.sleep(0.5)
    for grader in (hostile_grader, honest_grader):
        assert "Traceback" not in grader.stderr(), grader.stderr()[-3000:]
    with (out_honest / "gradebook.csv").open(encoding="utf-8") as f:
        book = {r["student_id"]: r for r in csv.DictReader(f)}
    assert (book["ann"]["score"], book["ben"]["score"]) == ("10", "4"), book
    for student in ("ann", "ben"):
        data = json.loads((out_honest / student / f"{LESSON}.json").read_text(encoding="utf-8"))
        assert data["extra_data"]["content_hash"]
    printed = [o.get("text", "") for p in out_hostile.rglob("*.executed.ipynb")
               for c in nbformat.read(str(p), as_version=4).cells for o in c.get("outputs", [])]
    assert printed, "the hostile runs' notebooks came back"
    assert not any("found:" in text for text in printed), "a hostile run read an honest answer"
    hostile_book = list(csv.DictReader((out_hostile / "gradebook.csv").open(encoding="utf-8")))
    assert {r["student_id"] for r in hostile_book} == {"mallory0", "mallory1"}
    _assert_nothing_left(marker)


class _Finished:
    """A `shikumi grade` process whose output is read as it comes (a full pipe would stall it)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.out = proc, []
        self.reader = threading.Thread(target=lambda: self.out.extend(proc.communicate(timeout=900)), daemon=True)
        self.reader.start()

    def running(self) -> bool:
        return self.reader.is_alive()

    def wait(self) -> None:
        self.reader.join(900)
        assert not self.reader.is_alive(), "shikumi grade did not finish within 900 s"

    def stderr(self) -> str:
        return self.out[1] if len(self.out) == 2 else ""


def _assert_nothing_left(marker: str) -> None:
    left = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), str(ROOT)):
        left += [str(p) for p in Path(folder).glob(f"left-{marker}")]
    assert not left, f"files a run wrote outlive it: {left}"
    shm = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    keys = {int(line.split()[0]) for line in shm if line.split()}
    assert not keys & {0x5A17, 0x5A18}, "a run's shared-memory segment outlives it"
    sleepers = [p for p in psutil.process_iter(["cmdline"]) if f"outlive-{marker}" in (p.info["cmdline"] or [])]
    assert not sleepers, "a process a run started outlives it"


# ------------------------------------------------------------------------------------------------
# The kernel and the process tree
# ------------------------------------------------------------------------------------------------

def test_kernel_and_display_attacks(tmp_path, solutions):
    """sys.exit, hooks that hide errors, objects that equal everything, bombs, blanking the cells after."""
    marker = uuid.uuid4().hex[:8]   # its sleepers carry this test's own name: no other test's are counted
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
children = [subprocess.Popen(["sleep-MARKER", "1000"], executable="sleep") for _ in range(20)]
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
    attacks["sentence_logprob"] = attacks["sentence_logprob"].replace("MARKER", marker)
    path = make_submission(tmp_path, LESSON, with_answers(solutions, **attacks))
    result = grade_submission(path, cell_timeout=60)
    assert result.error is None
    assert scores(result) == {g: 0 for g in attacks}, [t.output for t in result.tests]
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == [f"sleep-{marker}", "1000"]]
    assert not leftovers, "processes started by a submission outlive the run"


def test_killing_the_kernel_costs_only_that_exercise(tmp_path, solutions):
    path = make_submission(tmp_path, LESSON, with_answers(solutions, count_ngrams="import os\nos._exit(0)\n"))
    result = grade_submission(path)
    assert result.error is None
    assert scores(result) == {"count_ngrams": 0, "conditional_prob": 2, "smoothed_prob": 2,
                              "sentence_logprob": 2, "greedy_generate": 2}
    assert "stopped the Python kernel" in result.tests[0].output


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
        os.execvp("sleep", ["sleep-MARKER", "301"])  # the children stay (301 s at most): only the grader ends them
time.sleep(120)  # and so does the parent: the run ends early only if the grader stops it
'''


@pytest.mark.parametrize("mechanism", ["cgroup", "watched"])
def test_a_fork_bomb_is_stopped(tmp_path, solutions, monkeypatch, mechanism):
    """A pids cgroup where the machine has one, else the grader counts the run's processes. Bounded on
    purpose (256 processes at most), in case the limit failed."""
    if mechanism == "cgroup" and not sandbox.cgroup_roots():
        pytest.skip("this machine lets the grader create no cgroup")
    if mechanism == "watched":
        monkeypatch.setattr(sandbox, "cgroup_roots", lambda: {})
    marker = uuid.uuid4().hex[:8]   # the two variants may run at once, on two workers: each looks for its own bomb
    bomb = FORK_BOMB.replace("MARKER", marker)
    answers = with_answers(solutions, count_ngrams=bomb + solutions[LESSON]["count_ngrams"])
    result = grade_submission(make_submission(tmp_path, LESSON, answers),
                              limits=sandbox.Limits(max_processes=64))
    assert result.error is None
    assert scores(result) == {"count_ngrams": 0, "conditional_prob": 2, "smoothed_prob": 2,
                              "sentence_logprob": 2, "greedy_generate": 2}, [t.output for t in result.tests]
    message = result.tests[0].output
    assert "too many processes (at most 64" in message and "\n" not in message
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == [f"sleep-{marker}", "301"]]
    assert not leftovers, "processes started by the bomb outlive the run"


MEMORY_HOG = '''
import subprocess, sys
hog = """
import time
block = bytearray(700 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1  # touch every page: resident, not just reserved
time.sleep(30)
"""
children = [subprocess.Popen([sys.executable, "-c", hog + "# {marker}"]) for _ in range(4)]
for child in children:
    child.wait()
'''


@pytest.mark.parametrize("mechanism", ["cgroup", "watched"])
def test_memory_is_limited_for_the_whole_run(tmp_path, solutions, monkeypatch, mechanism):
    """Four children of 700 MB each, under a limit of 1500 MB for the run: before, the limit held for each
    process alone, and the four took 2.8 GB from the host together."""
    if mechanism == "cgroup" and not sandbox.cgroup_roots():
        pytest.skip("this machine lets the grader create no cgroup")
    if mechanism == "watched":
        monkeypatch.setattr(sandbox, "cgroup_roots", lambda: {})
    marker = uuid.uuid4().hex[:8]
    peak = [0]

    def sample():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not done.is_set():
            total = 0
            for p in psutil.process_iter(["cmdline", "memory_info"]):
                if marker in " ".join(p.info["cmdline"] or []) and p.info["memory_info"]:
                    total += p.info["memory_info"].rss
            peak[0] = max(peak[0], total)
            time.sleep(0.1)

    done = threading.Event()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    answers = with_answers(solutions, count_ngrams=MEMORY_HOG.format(marker=marker) + solutions[LESSON]["count_ngrams"])
    result = grade_submission(make_submission(tmp_path, LESSON, answers),
                              limits=sandbox.Limits(memory_mb=1500))
    done.set()
    sampler.join()
    assert peak[0] < 2 * 1500 * 2**20, f"the hogs held {peak[0] / 2**20:.0f} MB together"
    assert scores(result)["count_ngrams"] == 0
    assert scores(result)["greedy_generate"] == 2, [t.output for t in result.tests]


FLOOD = '''
import os
chunk = b"x" * 2**20
for target in ("/proc/1/fd/2", "/proc/1/fd/1", "/proc/self/fd/2"):
    try:
        with open(target, "wb", buffering=0) as f:
            for _ in range(300):
                f.write(chunk)
    except OSError:
        pass
'''


def test_flooding_the_graders_pipes_costs_the_grader_nothing(tmp_path, solutions):
    """Before, 2 GiB written to the grader's stderr from inside the run grew the grader to 4.2 GB."""
    me = psutil.Process()
    before = me.memory_info().rss
    answers = with_answers(solutions, count_ngrams=FLOOD + solutions[LESSON]["count_ngrams"])
    result = grade_submission(make_submission(tmp_path, LESSON, answers))
    grew = me.memory_info().rss - before
    assert grew < 300 * 2**20, f"the grader grew by {grew / 2**20:.0f} MB"
    assert result.score == 10, [t.output for t in result.tests]


def test_a_busy_machine_makes_grading_slower_never_lower(tmp_path, solutions):
    """Two processes keep both cores busy while a complete solution is graded with `cell_timeout` = 2 s.
    Before, the lesson's import cell ran past it (seconds of wall time under load) and every exercise failed
    with NameError. Now the limit counts the CPU time the learner's cells use, and the lesson's own cells
    have a limit of their own."""
    burn = "import time\nstop = time.time() + 300\nwhile time.time() < stop:\n    pass\n"  # ends by itself
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
    try:
        result = grade_submission(make_submission(tmp_path, LESSON, solutions[LESSON]), cell_timeout=2)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.score == 10, [t.output for t in result.tests]


# ------------------------------------------------------------------------------------------------
# Points not earned: the library's own solution, however it is reached
# ------------------------------------------------------------------------------------------------

TWINS_01 = {
    # a default argument keeps the library's function, whatever the grader does to the module's attribute
    "count_ngrams": "import shikumi.ngram as _lib\n"
                    "def count_ngrams(tokens, n, _f=_lib.count_ngrams):\n    return _f(tokens, n)\n",
    # a fresh copy of the module, loaded from its file: other function objects, the same code
    "conditional_prob": "import importlib.util, shikumi.ngram as _lib\n"
                        "_spec = importlib.util.spec_from_file_location('_copy', _lib.__file__)\n"
                        "_copy = importlib.util.module_from_spec(_spec)\n_spec.loader.exec_module(_copy)\n"
                        "def conditional_prob(counts, context, word):\n"
                        "    return _copy.conditional_prob(counts, context, word)\n",
    # behind a wrapper the grader put there: __wrapped__ is the library's own
    "smoothed_prob": "import shikumi.ngram as _lib\n"
                     "def smoothed_prob(counts, context, word, k, vocab_size):\n"
                     "    m = _lib.NGramModel(len(tuple(context)) + 1, k)\n"
                     "    for gram, c in counts.items():\n"
                     "        m.next_counts[gram[:-1]][gram[-1]] += c\n"
                     "    m.vocab = set(range(vocab_size - 1))\n"
                     "    prob = getattr(_lib.NGramModel.prob, '__wrapped__', _lib.NGramModel.prob)\n"
                     "    return prob(m, word, context)\n",
    # find the grader's record of library calls up the stack, and empty it
    "greedy_generate": "import sys, shikumi.ngram as _lib\n"
                       "def _forget():\n"
                       "    frame = sys._getframe(1)\n"
                       "    while frame is not None:\n"
                       "        for value in list(frame.f_locals.values()):\n"
                       "            if isinstance(value, list) and value and all(isinstance(v, str) and ':' in v for v in value):\n"
                       "                value.clear()\n"
                       "        frame = frame.f_back\n"
                       "def greedy_generate(counts, context, n, max_words=20):\n"
                       "    m = _lib.NGramModel(n)\n"
                       "    for gram, c in counts.items():\n"
                       "        m.next_counts[gram[:-1]][gram[-1]] += c\n"
                       "    words = m.generate(list(context), max_words)\n"
                       "    _forget()\n"
                       "    return words\n",
}


def test_the_librarys_solution_is_found_however_it_is_reached(tmp_path, solutions):
    """Default argument, a reloaded copy of the module, __wrapped__, clearing the record through frames:
    before, each of these scored full."""
    result = grade_submission(make_submission(tmp_path, LESSON, with_answers(solutions, **TWINS_01)))
    tests = {t.grade_id: t for t in result.tests}
    for gid in TWINS_01:
        assert tests[gid].score == 0 and "library's own solution" in tests[gid].output, (gid, tests[gid].output)
    assert tests["sentence_logprob"].score == 2, tests["sentence_logprob"].output


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


# A function and a module (a class the grader builds) in each of two lessons. Lesson 04's twins are not run here: its
# run costs a minute, and the way a twin is caught is the same in every lesson (test_check_registry.py checks that
# every exercise declares its twin, and that each is real library code).
@pytest.mark.parametrize("lesson, twins", [
    ("02_attention", {"causal_mask": "from shikumi.attention import causal_mask\n",
                      "MultiHeadSelfAttention": "from shikumi.attention import MultiHeadAttention\n"
                                                "MultiHeadSelfAttention = MultiHeadAttention\n"}),
    ("03_transformer", {"positional_encoding":
                        "from shikumi.transformer import sinusoidal_positional_encoding as positional_encoding\n",
                        "EncoderLayer": "from shikumi import transformer\n"
                                        "class EncoderLayer(transformer.EncoderLayer):\n    pass\n"}),
], ids=["02_attention", "03_transformer"])
def test_library_twins_are_caught_as_functions_and_as_modules(tmp_path, lesson, twins):
    result = grade_submission(make_submission(tmp_path, lesson, twins))
    tests = {t.grade_id: t for t in result.tests}
    for gid in twins:
        assert tests[gid].score == 0 and "library's own solution" in tests[gid].output, (gid, tests[gid].output)


HOOKS = '''
import json, re, glob
from collections import Counter
import shikumi.ngram as _lib

_seen = {}

def _pre(info):
    _seen["cell"] = info.raw_cell

def _post(result):
    cell = _seen.get("cell", "")
    if "probe(" not in cell:
        return
    # the old layout: rewrite the probe's outputs file with the library's answers
    for path in glob.glob("/var/tmp/*/io/outputs/conditional_prob.json"):
        record = json.load(open(path))
        spec = json.load(open(path.replace("outputs", "inputs")))
        for case, out in zip(spec["cases"], record["cases"]):
            args = [tuple(a["__tuple__"]) if isinstance(a, dict) and "__tuple__" in a else a for a in case["args"]["__tuple__"]]
            counts = Counter({tuple(k["__tuple__"]): v for k, v in args[0]["__counter__"]}) if isinstance(args[0], dict) else args[0]
            out["value"] = _lib.conditional_prob(counts, tuple(args[1]), args[2])
            out.pop("error", None)
        json.dump(record, open(path, "w"))

ip = get_ipython()
ip.events.register("pre_run_cell", _pre)
ip.events.register("post_run_cell", _post)

def conditional_prob(counts, context, word):
    return 0.0
'''


def test_hooks_cannot_see_the_probe_or_rewrite_what_it_saw(tmp_path, solutions):
    """Before, a post_run_cell hook rewrote the probe's output file and turned `return 0.0` into 2/2."""
    result = grade_submission(make_submission(tmp_path, LESSON, with_answers(solutions, conditional_prob=HOOKS)))
    assert scores(result)["conditional_prob"] == 0, result.tests[1].output


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
             if "_look_around" not in src and "DEVICE =" not in src  # the lesson's own settings cell: in every run
             and any(w in src.lower() for w in words)]
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


def test_the_kernel_cannot_tell_it_is_being_graded(tmp_path):
    """No grader name in the namespace, no grader module, no grader cell in the history, nothing in the
    environment or the working folder's name. (What remains detectable: docs/instructor-guide.md.)"""
    executed = tmp_path / "executed.ipynb"
    result = grade_submission(make_submission(tmp_path, LESSON, {"count_ngrams": LOOK_AROUND}), executed_to=executed)
    printed = [o.get("text", "") for c in nbformat.read(str(executed), as_version=4).cells
               for o in c.get("outputs", []) if "seen:" in o.get("text", "")]
    assert scores(result)["count_ngrams"] == 2, printed or result.tests[0].output


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, solutions):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed: install it")
    path = make_submission(tmp_path, LESSON, {"count_ngrams": solutions[LESSON]["count_ngrams"]})
    refused = grade_submission(path)
    assert refused.error and "bubblewrap" in refused.error and refused.tests == []
    trusted = grade_submission(path, no_sandbox=True)
    assert scores(trusted)["count_ngrams"] == 2 and "WITHOUT a sandbox" in trusted.note


def test_a_run_that_stops_making_progress_is_run_again_once(tmp_path, solutions, monkeypatch):
    """A kernel reply lost on its way (seen twice in CI under load: the kernel idle, papermill waiting) would
    have waited for the whole notebook's time limit. A run that sends nothing and computes nothing for
    STALL_SECONDS is stopped and run once more; a second stall is reported as such."""
    from autograder import grade as grading

    monkeypatch.setattr(grading, "STALL_SECONDS", 3)
    runs, execute = [], grading.execute

    def counted(*args, **kwargs):
        runs.append(1)
        return execute(*args, **kwargs)

    monkeypatch.setattr(grading, "execute", counted)
    answers = with_answers(solutions, count_ngrams="import time\ntime.sleep(90)\n" + solutions[LESSON]["count_ngrams"])
    result = grade_submission(make_submission(tmp_path, LESSON, answers), cell_timeout=60)
    assert len(runs) == 2
    assert "no progress for 3 s" in result.note
    assert result.score == 0

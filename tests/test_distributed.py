"""Grading on many machines: `shikumi grade --scheduler` with a real Dask scheduler and workers on loopback.

The same class graded here and on Dask gives the same files; a worker killed in the middle of a batch loses
nothing; an unreachable scheduler is one sentence; a result a worker makes up is refused for that notebook
only. Results are compared byte for byte, except what measures time: `execution_time` in the results JSON and
the `seconds` column of the gradebook. The notebooks as they ran (`.executed.ipynb`) differ between any two runs
(papermill's timestamps, cell ids, the grader's random watch name) and are only checked to be there.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, make_submission

distributed = pytest.importorskip("distributed")

from autograder import batch, wire  # noqa: E402
from autograder.batch import grade_batch  # noqa: E402

LESSON = "01_ngram"
HALF = ("count_ngrams", "conditional_prob")
PLUGIN = ROOT / "tests" / "dask_hostile_worker.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A `dask scheduler` and `dask worker`s as processes of their own (each its own process group)."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs, self.workers = tmp, [], {}
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT),
                                                                  os.environ.get("PYTHONPATH", "")])}
        self.address = f"tcp://127.0.0.1:{free_port()}"

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                cwd=self.tmp, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self, n_workers: int = 2) -> Cluster:
        port = self.address.rsplit(":", 1)[1]
        self._start("scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port,
                    "--no-dashboard", "--idle-timeout", "900")  # should this test run be killed, it ends too
        for _ in range(n_workers):
            self.add_worker()
        with self.client() as client:
            if n_workers:
                client.wait_for_workers(n_workers, timeout=180)
        return self

    def add_worker(self) -> str:
        i = len(self.procs) - 1   # a new name each time: w0, w1, then w2 for the one that replaces a killed one
        address = f"tcp://127.0.0.1:{free_port()}"
        self.workers[address] = self._start(
            f"worker{i}", "distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-dashboard",
            "--name", f"w{i}", "--worker-port", address.rsplit(":", 1)[1], "--nanny-port", str(free_port()),
            "--local-directory", str(self.tmp / f"w{i}"), "--preload", str(PLUGIN), "--death-timeout", "60")
        return address

    def replace(self, killed: str) -> None:
        """A new worker for one that was killed: the cluster has two again, for the tests after."""
        del self.workers[killed]
        self.add_worker()
        with self.client() as client:
            client.wait_for_workers(len(self.workers), timeout=180)

    def client(self):
        return distributed.Client(self.address, timeout=60, set_as_default=False)

    def kill(self, proc: subprocess.Popen) -> None:
        """kill -9 the whole process group: the nanny, its worker and whatever the worker started."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self.kill(proc)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in self.tmp.glob("*.log"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers with one thread each, on random free ports, torn down even on failure. The
    workers load tests/dask_hostile_worker.py, which changes nothing for notebooks not named mallory… or oscar…"""
    cluster = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def gradebook(out: Path, drop=("seconds",)) -> list[dict]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def results_json(out: Path) -> dict[str, dict]:
    """Every results file, without its execution time."""
    found = {}
    for path in sorted(out.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("execution_time")
        found[str(path.relative_to(out))] = data
    return found


def shikumi_grade(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shikumi", "grade", *map(str, args)], capture_output=True,
                          text=True, timeout=900, env=env)


def a_class(folder: Path, solutions, names=("amy", "chi", "dan")) -> Path:
    """Blank, complete in Japanese, half done in English: the kinds of notebook a class hands in (scores 0, 10 and
    4; both languages). Names past the third get a complete English notebook."""
    folder.mkdir(parents=True)
    half = {g: solutions[LESSON][g] for g in HALF}
    kinds = [({}, "en"), (solutions[LESSON], "ja"), (half, "en")]
    for i, name in enumerate(names):
        answers, lang = kinds[i] if i < len(kinds) else (solutions[LESSON], "en")
        make_submission(folder, LESSON, answers, lang=lang, name=f"{name}.ipynb")
    return folder


def count_submits(monkeypatch) -> list:
    sent = []
    submit = distributed.Client.submit

    def counting(self, *args, **kwargs):
        sent.append(kwargs.get("key"))
        return submit(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", counting)
    return sent


def test_the_same_class_gets_the_same_files_on_dask_as_here(cluster, tmp_path, solutions, monkeypatch):
    cls = a_class(tmp_path / "class", solutions)
    here, there = tmp_path / "here", tmp_path / "there"
    results, _ = grade_batch([cls], here, workers=1, progress=False)
    assert sorted(r.score for r in results) == [0, 4, 10] and {r.error for r in results} == {None}

    proc = shikumi_grade(cls, "--out", there, "--scheduler", cluster.address)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + cluster.logs()
    assert "3 graded" in proc.stdout
    assert gradebook(there) == gradebook(here)
    assert results_json(there) == results_json(here)
    assert (here / "gradebook.csv").read_bytes() != b"" and len(gradebook(there)) == 3
    pages = sorted(p.relative_to(here) for p in here.glob("*/*.html"))
    assert len(pages) == 3
    for page in pages:
        assert (there / page).read_bytes() == (here / page).read_bytes(), page
    ran = sorted(p.relative_to(here) for p in here.glob("*/*.executed.ipynb"))
    assert len(ran) == 2 and ran == sorted(p.relative_to(there) for p in there.glob("*/*.executed.ipynb"))

    # again: every notebook is already graded, and nothing is sent to the cluster
    sent = count_submits(monkeypatch)
    results, skipped = grade_batch([cls], there, progress=False, scheduler=cluster.address)
    assert (results, skipped, sent) == ([], 3, [])
    # a changed notebook is the only one sent (still blank, now the Japanese edition: graded without a kernel)
    make_submission(cls, LESSON, {}, lang="ja", name="amy.ipynb")
    results, skipped = grade_batch([cls], there, progress=False, scheduler=cluster.address)
    assert skipped == 2 and len(sent) == 1
    assert [(r.student_id, r.score, r.language) for r in results] == [("amy", 0, "ja")]


def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing(cluster, tmp_path, solutions):
    """On the module's cluster: the killed worker is replaced afterwards, for the tests after this one."""
    cls = a_class(tmp_path / "class", solutions)
    out = tmp_path / "grades"
    done: dict = {}
    batch_run = threading.Thread(target=lambda: done.update(
        zip(("results", "skipped"), grade_batch([cls], out, progress=False, scheduler=cluster.address))))
    batch_run.start()
    killed = None
    try:
        with cluster.client() as watcher:
            deadline = time.monotonic() + 300
            while killed is None and time.monotonic() < deadline and batch_run.is_alive():
                busy = [w for w, keys in watcher.processing().items() if keys and w in cluster.workers]
                if busy:
                    time.sleep(1.5)  # it has started: its sandbox and kernel are running
                    if watcher.processing().get(busy[0]):
                        killed = busy[0]
                        cluster.kill(cluster.workers[killed])
                time.sleep(0.2)
            assert killed is not None, "no worker was ever seen grading"
            finished_then = len(list(out.glob("*/*.json")))
        batch_run.join(900)
        assert not batch_run.is_alive()
        assert finished_then < 3
        results = done["results"]
        assert {r.error for r in results} == {None}, [r.error for r in results]
        rows = gradebook(out)
        assert {r["student_id"]: r["score"] for r in rows} == {"amy": "0", "chi": "10", "dan": "4"}
        with cluster.client() as after:
            assert list(after.scheduler_info()["workers"]) == [w for w in cluster.workers if w != killed]
    finally:
        if killed is not None:
            cluster.replace(killed)


def test_an_unreachable_scheduler_is_one_sentence_and_writes_nothing(tmp_path, solutions):
    cls = a_class(tmp_path / "class", solutions, names=("amy",))
    out = tmp_path / "grades"
    first = shikumi_grade(cls, "--out", out, "--no-sandbox")  # a blank notebook: graded at once, no kernel
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    nobody = f"tcp://127.0.0.1:{free_port()}"
    quick = {**os.environ, "SHIKUMI_DASK_CONNECT_S": "2"}   # nobody listens there: no need to wait 10 s, twice
    proc = shikumi_grade(cls, "--out", out, "--scheduler", nobody, env=quick)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    said = [line for line in proc.stderr.splitlines() if "shikumi grade:" in line]
    assert len(said) == 1 and f"cannot reach the Dask scheduler at {nobody}" in said[0], proc.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    fresh = shikumi_grade(cls, "--out", tmp_path / "new", "--scheduler", nobody, env=quick)
    assert fresh.returncode == 2 and not (tmp_path / "new").exists()


def test_a_scheduler_without_workers_is_one_sentence(tmp_path):
    from autograder import cluster

    lonely = Cluster(tmp_path)
    try:
        lonely.start(n_workers=0)
        with pytest.raises(cluster.Unreachable) as said:
            cluster.connect(lonely.address, wait_for_workers=2)
        assert str(said.value) == (f"the Dask scheduler at {lonely.address} has no workers (waited 2 s): start one "
                                   f"on each grading machine with `dask worker {lonely.address}`")
    finally:
        lonely.stop()


def test_a_result_a_worker_makes_up_is_refused_for_that_notebook_only(cluster, tmp_path, solutions, monkeypatch):
    """The plugin lies about mallory's, oscar's and trent's notebooks whatever they hold: those three are blank
    (graded without a kernel, in both runs); ann's is complete, graded in a kernel and left untouched."""
    cls = tmp_path / "class"
    cls.mkdir()
    make_submission(cls, LESSON, solutions[LESSON], name="ann.ipynb")
    for name in ("mallory", "oscar", "trent"):
        make_submission(cls, LESSON, {}, name=f"{name}.ipynb")
    out = tmp_path / "grades"
    proc = shikumi_grade(cls, "--out", out, "--scheduler", cluster.address)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-2000:]
    rows = {r["student_id"]: r for r in gradebook(out)}
    assert rows["ann"]["status"] == "graded" and rows["ann"]["score"] == "10"
    assert rows["mallory"]["status"] == "error" and rows["mallory"]["score"] == "0"
    assert "the result from tcp://127.0.0.1:" in rows["mallory"]["message"]
    assert "was rejected: exercise 1.1: 20.0 / 2.0 points; it is worth 2" in rows["mallory"]["message"]
    assert rows["oscar"]["status"] == "error" and "the result is a dict, not JSON text" in rows["oscar"]["message"]
    assert rows["trent"]["status"] == "error"
    assert "the worker did not grade it: the task raised RuntimeError: ('no grading today'" in rows["trent"]["message"]
    # the refused ones were not graded: the next run sends them again, and only them
    sent = count_submits(monkeypatch)
    results, skipped = grade_batch([cls], out, progress=False, scheduler=cluster.address)
    assert skipped == 1 and len(sent) == 3 and {r.student_id for r in results} == {"mallory", "oscar", "trent"}


# -- the client's checks on a result, one by one (no cluster) ------------------------------------------------


@pytest.fixture(scope="module")
def honest(tmp_path_factory, solutions):
    """A real result of a half-done notebook (graded here), its bytes and its submission."""
    folder = tmp_path_factory.mktemp("honest")
    path = make_submission(folder, LESSON, {g: solutions[LESSON][g] for g in HALF}, name="kim.ipynb")
    [sub] = batch.discover([path])
    batch.identify([sub])
    raw = path.read_bytes()
    return wire.grade_task(raw, sub.path.name, {"threads": 1}), raw, sub


def tampered(payload: str, change) -> str:
    data = json.loads(payload)
    change(data)
    return json.dumps(data)


def set_test(i, **values):
    return lambda d: d["result"]["tests"][i].update(values)


LIES = {
    "a score over its points": (set_test(0, score=3.0), "exercise 1.1: 3.0 / 2.0 points; it is worth 2"),
    "a negative score": (set_test(2, score=-1.0), "exercise 1.3: -1.0 / 2.0 points"),
    "points of its own": (set_test(2, max_score=20.0, score=20.0), "it is worth 2"),
    "a total that is not the sum": (lambda d: d["result"].update(score=9.0), "not the sum of its tests' scores"),
    "a passed exercise that scored 0": (set_test(2, status="passed"), "status 'passed' for 0 / 2"),
    "a max_score of its own": (lambda d: d["result"].update(max_score=100.0), "max_score is 100.0"),
    "a test too few": (lambda d: d["result"]["tests"].pop(), "has 4 tests; lesson 01_ngram has 5"),
    "another exercise": (set_test(1, grade_id="count_ngrams"), "is not exercise 1.2 conditional_prob"),
    "a score that is text": (set_test(0, score="2"), "a test's score is not a number"),
    "a score that is true": (set_test(0, score=True), "a test's score is not a number"),
    "NaN": (lambda d: d["result"].update(score=float("nan")), "not valid JSON"),
    "another seed": (lambda d: d["result"].update(seed=d["result"]["seed"] + 1), "not the seed of this notebook"),
    "another lesson": (lambda d: d["result"].update(lesson="02_attention"), "for lesson '02_attention'"),
    "another language": (lambda d: d["result"].update(language="ja"), "in language 'ja'"),
    "another course": (lambda d: d.update(course="0" * 64), "another version of the course"),
    "a field too many": (lambda d: d["result"].update(grade="A"), "does not have the fields"),
    "a test output too long": (set_test(0, output="x" * (wire.MAX_OUTPUT + 1)), "characters long; at most"),
    "an executed notebook that is not one": (lambda d: d.update(executed="{}"), "is not a notebook"),
    "a result that is not an object": (lambda d: d.update(result=[1, 2]), "the result is not a JSON object"),
    "a problem of the worker": (lambda d: d.update(problem="no bwrap"), "the worker did not grade it: no bwrap"),
    "an error with a score": (lambda d: d["result"].update(error="oops", score=4.0), "still has a lesson, tests"),
}


def test_an_honest_result_is_accepted_as_it_is(honest):
    payload, raw, sub = honest
    accepted = wire.accept(payload, raw, sub)
    assert accepted.result.score == 4 and accepted.result.max_score == 10 and accepted.executed
    assert accepted.result.submission == str(sub.path) and accepted.result.student_id == "kim"


def test_a_workers_word_on_the_answers_is_never_taken(honest):
    """The similarity report compares learners' answers: a worker that sends other answers (to frame a learner
    as a copier, or hide a copy) is not believed; the client reads them from the bytes it sent itself."""
    payload, raw, sub = honest
    forged = tampered(payload, lambda d: d["result"].update(answers={"count_ngrams": "def count_ngrams(): copied"}))
    accepted = wire.accept(forged, raw, sub)
    assert accepted.result.answers == wire.accept(payload, raw, sub).result.answers
    assert "copied" not in accepted.result.answers.get("count_ngrams", "") and accepted.result.answers


@pytest.mark.parametrize("lie", LIES)
def test_a_made_up_result_is_refused_with_its_reason(honest, lie):
    payload, raw, sub = honest
    change, reason = LIES[lie]
    with pytest.raises(wire.Rejected) as refused:
        wire.accept(tampered(payload, change), raw, sub)
    assert reason in str(refused.value), str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("payload, reason", [
    ({"score": 10}, "the result is a dict, not JSON text"),
    (b"{}", "the result is a bytes, not JSON text"),
    ("x" * (wire.MAX_PAYLOAD + 1), "at most 16 MB"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ("null", "the result is not a JSON object"),
])
def test_what_is_not_a_result_at_all_is_refused(honest, payload, reason):
    _, raw, sub = honest
    with pytest.raises(wire.Rejected) as refused:
        wire.accept(payload, raw, sub)
    assert reason in str(refused.value)


def test_a_refused_result_never_replaces_one_already_written(honest, tmp_path):
    """Written as "not graded" (no content hash: graded again next time) where there was nothing; where a
    result already is, it stays as it was."""
    payload, raw, sub = honest
    lie = tampered(payload, LIES["a score over its points"][0])
    res = batch.record(sub, raw, lie, tmp_path, "digest")
    assert res.error.startswith("not graded: the result was rejected: exercise 1.1")
    written = json.loads(batch.result_path(tmp_path, sub).read_text(encoding="utf-8"))
    assert written["extra_data"]["content_hash"] == "" and written["score"] == 0
    good = batch.record(sub, raw, payload, tmp_path, "digest")
    assert good.error is None and good.score == 4
    before = batch.result_path(tmp_path, sub).read_bytes()
    again = batch.record(sub, raw, lie, tmp_path, "digest")
    assert again.error and batch.result_path(tmp_path, sub).read_bytes() == before
    gone = batch.record(sub, raw, distributed.KilledWorker("shikumi-grade-1", SimpleNamespace(address="tcp://10.0.0.9:4000"), 3), tmp_path, "d")
    assert "its task failed on the Dask cluster (KilledWorker" in gone.error
    assert batch.result_path(tmp_path, sub).read_bytes() == before


def test_a_worker_without_a_sandbox_grades_nothing_and_says_why(honest, tmp_path, monkeypatch):
    _, raw, sub = honest
    monkeypatch.setattr(wire.sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed: install it")
    res = batch.record(sub, raw, wire.grade_task(raw, sub.path.name, {}, where="tcp://10.0.0.8:4000"), tmp_path, "d")
    assert res.error == ("not graded: the result from tcp://10.0.0.8:4000 was rejected: the worker did not grade it: "
                         "cannot grade safely on this machine: bubblewrap (bwrap) is not installed: install it")
    written = json.loads(batch.result_path(tmp_path, sub).read_text(encoding="utf-8"))
    assert written["extra_data"]["content_hash"] == ""  # graded again by the next run


def test_an_internal_grader_error_is_graded_again_next_time(honest, tmp_path):
    """A notebook this machine read and identified, whose grading still ended in an error, is no final grade."""
    payload, raw, sub = honest

    def crashed(d):
        d["result"].update(error="internal grader error (KeyError: 'x'); please report it", tests=[], score=0,
                           max_score=0, lesson="", seed=None, note="Traceback …")
    res = batch.record(sub, raw, tampered(payload, crashed), tmp_path, "digest")
    assert res.error.startswith("internal grader error")
    written = json.loads(batch.result_path(tmp_path, sub).read_text(encoding="utf-8"))
    assert written["extra_data"]["content_hash"] == "" and written["extra_data"]["error"] == res.error

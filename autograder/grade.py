"""Grade one submission: take the learner's answers, run them in the trusted lesson, check what they return.

`grade_submission(path)` never raises for a bad submission: whatever goes wrong (not a notebook, the
wrong lesson, a cell that loops forever, a kernel that dies) ends up as a message in the result, and the
exercises that did run are still scored. The messages are in the language of the edition the learner handed
in (`which_language`; shikumi/lang.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder import checks as checks_registry
from autograder import harness, sandbox, verify
from autograder.harness import GRADER_TAG
from autograder.plain import encode
from shikumi.course import release
from shikumi.lang import LANGUAGES, speaking, tr

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
# MODEL="shipped": a lesson that trains its model in front of the learner (issue 15) loads the shipped checkpoint
# instead, so grading time does not grow. Any learner on a slow machine picks the same value: no grading tell.
GRADING_PARAMETERS = {"DEVICE": "cpu", "SIZE": "quick", "SEED": 0, "MODEL": "shipped"}


@dataclass
class ExerciseResult:
    number: str
    grade_id: str
    score: float
    max_score: float
    output: str
    status: str = ""  # "passed" or "failed" (Gradescope's words)

    def __post_init__(self):
        self.status = self.status or ("passed" if self.score >= self.max_score else "failed")


@dataclass
class SubmissionResult:
    submission: str
    student_id: str
    lesson: str = ""
    score: float = 0.0
    max_score: float = 0.0
    tests: list[ExerciseResult] = field(default_factory=list)
    seed: int | None = None
    seconds: float = 0.0
    error: str | None = None  # why the submission could not be graded at all, in one line
    note: str = ""            # graded, but something stopped early (a time-out, a dead kernel)
    language: str = "en"      # of the edition handed in: the language of every message above
    answers: dict[str, str] = field(default_factory=dict, repr=False)  # {grade_id: the learner's code}

    def to_gradescope(self) -> dict:
        """Gradescope's results.json shape."""
        with speaking(self.language):
            score = f"{self.score:g} / {self.max_score:g}"
            output = self.error or (tr(f"Lesson {self.lesson}: {score}", f"レッスン {self.lesson}：{score}")
                                    + (tr(f" ({self.note})", f"（{self.note}）") if self.note else ""))
            names = [tr(f"Exercise {t.number}: {t.grade_id}", f"演習 {t.number}：{t.grade_id}") for t in self.tests]
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.seconds, 2),
            "output": output,
            "tests": [{"name": name, "number": t.number, "score": t.score, "max_score": t.max_score,
                       "status": t.status, "output": t.output} for name, t in zip(names, self.tests)],
            "extra_data": {"submission": self.submission, "student_id": self.student_id, "lesson": self.lesson,
                           "seed": self.seed, "error": self.error, "note": self.note, "language": self.language},
        }


class SubmissionError(Exception):
    """A submission that cannot be graded; the message is the one line the instructor sees."""


# ------------------------------------------------------------------------------------------------
# Reading the submission
# ------------------------------------------------------------------------------------------------

def read_submission(path: Path):
    """The notebook in `path`, read without following a symlink and within bounds; SubmissionError (one line)
    for anything else."""
    return parse_submission(read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The bytes of the file `path` (never through a symlink, never a folder or a device, never more than a
    notebook may have); SubmissionError (one line) for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: no such file") from None
    except OSError as e:
        if path.is_symlink():
            raise SubmissionError("the file is a symbolic link, not a notebook: hand in the file itself") from None
        raise SubmissionError(f"{path}: cannot be read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise SubmissionError(f"{path}: is a folder, not a notebook")
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{path}: not a regular file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f"the file is {info.st_size / 2**20:.0f} MB; a notebook is at most "
                                  f"{MAX_NOTEBOOK_BYTES // 2**20} MB (clear its outputs and submit again)")
        return f.read(MAX_NOTEBOOK_BYTES + 1)


def parse_submission(raw: bytes):
    """The notebook in a submission's bytes, within bounds; SubmissionError (one line) for anything else."""
    if not raw:
        raise SubmissionError("the file is empty")
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the file is over {MAX_NOTEBOOK_BYTES // 2**20} MB; a notebook is at most "
                              f"{MAX_NOTEBOOK_BYTES // 2**20} MB (clear its outputs and submit again)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SubmissionError("not a notebook: the file is not text (UTF-8)") from None
    except json.JSONDecodeError as e:
        raise SubmissionError(f"not a notebook: not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise SubmissionError("not a notebook: JSON nested too deeply") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise SubmissionError("not a notebook: valid JSON, but with no 'cells'")
    if data.get("nbformat") != 4:
        raise SubmissionError(f"notebook format {data.get('nbformat')} is not supported; save it from "
                              "JupyterLab (format 4)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)  # joins multi-line sources, upgrades 4.x minors
    except Exception as e:  # malformed cells (RecursionError included)
        raise SubmissionError(f"not a readable notebook: {type(e).__name__}") from None
    if not all(isinstance(c, dict) and isinstance(c.get("source", ""), str) for c in nb.cells):
        raise SubmissionError("not a readable notebook: a cell has no text source")
    return nb


def which_lesson(nb, path: Path) -> str:
    """The lesson a submission belongs to: its metadata, else its file name, else its exercises."""
    known = {p.stem: p for p in release.sources()}
    meta = nb.metadata.get("shikumi", {}).get("lesson") if isinstance(nb.metadata.get("shikumi"), dict) else None
    if isinstance(meta, str) and meta in known:
        return meta
    for name in known:
        if path.stem.startswith(name) or name in path.stem:
            return name
    ids = {release.grade_id(c) for c in nb.cells if release.is_answer_cell(c)}
    for name, src in known.items():
        if ids & {e.grade_id for e in release.exercises(release.read_source(src))}:
            return name
    lessons = ", ".join(sorted(known)) or "none"
    raise SubmissionError(tr("cannot tell which lesson this is: no lesson metadata, no lesson name in the file "
                                f"name, and no known exercise cells (lessons: {lessons})",
                                "どのレッスンのノートブックかわかりません。レッスンのメタデータも、ファイル名のレッスン名も、"
                                f"既知の演習のセルもありません（レッスン：{lessons}）"))


HIRAGANA, LATIN = re.compile("[\u3041-\u309f]"), re.compile("[A-Za-z]")


def which_language(nb) -> str:
    """The edition a submission comes from, "en" or "ja": its metadata, else its prose. Hiragana (の, は, です…)
    make up 60–80% of the letters of the Japanese edition's prose, under 30% of the bilingual source's, under 10%
    of the English edition's (its Japanese examples, むかしむかし)."""
    meta = nb.metadata.get("shikumi")
    lang = meta.get("lang") if isinstance(meta, dict) else None
    if isinstance(lang, str) and lang in LANGUAGES:
        return lang
    prose = "".join(c.source for c in nb.cells if c.get("cell_type") == "markdown")
    kana, latin = len(HIRAGANA.findall(prose)), len(LATIN.findall(prose))
    return "ja" if kana > 0.4 * (kana + latin) else "en"


def _grade_id(cell) -> str | None:
    """A learner's cell's nbgrader grade_id, if it has a well-formed one."""
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def answers_of(nb, exercises) -> tuple[dict[str, str], dict[str, str]]:
    """{grade_id: source} of the learner's answer cells, and notes on how some were found."""
    answers, notes = {}, {}
    for cell in nb.cells:
        gid = _grade_id(cell) if cell.get("cell_type") == "code" else None
        if gid and gid not in answers and any(e.grade_id == gid for e in exercises):
            answers[gid] = cell.source
    for e in exercises:  # cells whose nbgrader metadata got lost: look for the function by name
        if e.grade_id not in answers:
            for cell in nb.cells:
                if cell.get("cell_type") == "code" and f"def {e.grade_id}(" in cell.source:
                    answers[e.grade_id] = cell.source
                    notes[e.grade_id] = tr("(found by its `def` line: the cell had lost its exercise metadata) ",
                                              "（演習のメタデータが消えていたので、`def` の行で答えのセルを見つけました）")
                    break
    return answers, notes


# ------------------------------------------------------------------------------------------------
# The notebook that is executed
# ------------------------------------------------------------------------------------------------

INPUTS = sandbox.INPUTS  # where the run finds what the grader gives it (read-only, copied in)


def grading_notebook(trusted, answers: dict[str, str], specs: dict[str, dict], watch: str,
                     inputs: str = INPUTS):
    """The trusted lesson with the learner's answer cells in place, checks removed; a watch first, and after
    each answer cell a guard and a probe that carries that exercise's inputs (see harness.py)."""
    def grader_cell(source: str, grade_id: str | None):
        return nbformat.v4.new_code_cell(source, metadata={"tags": ["raises-exception", GRADER_TAG],
                                                           "shikumi_probe": grade_id})

    references = {gid: spec["references"] for gid, spec in specs.items()}
    nb = nbformat.v4.new_notebook(metadata=trusted.metadata)
    nb.cells.append(grader_cell(harness.watch_source(watch, references), None))
    for cell in trusted.cells:
        if release.is_check_cell(cell):
            continue  # the visible self-checks are for the learner; the hidden checks grade
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        if cell.cell_type == "code":
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"raises-exception"})
        gid = release.grade_id(cell) if release.is_answer_cell(cell) else None
        if gid in answers:
            cell.source = answers[gid]
        nb.cells.append(cell)
        if gid in specs:
            nb.cells.append(grader_cell(harness.guard_source(watch, gid), gid))
            nb.cells.append(grader_cell(harness.probe_source(watch, specs[gid], f"{inputs}/plain.py"), gid))
    last_probe = max(i for i, c in enumerate(nb.cells) if c.metadata.get("shikumi_probe"))
    nb.cells = nb.cells[: last_probe + 1]  # the lesson's cells after its last exercise grade nothing
    return nb


WATCH_SECONDS = 0.5  # how often the grader looks at a running notebook: its time, its limits
STALL_SECONDS = 150  # a run that sends nothing and computes nothing this long has lost a message: run it again
ALIVE_CPU_SECONDS = 2.0  # CPU time that counts as a sign of life, however long the run took to get it


class Liveness:
    """Is a run still getting somewhere? It is while it sends messages or computes: ALIVE_CPU_SECONDS of CPU time
    since its last sign of life is one. Counted in CPU-seconds, not as a share of a core: on a host busy with other
    runs an honest notebook may get a tenth of a core for minutes (it once got less than 40 % of a core for 150 s
    and was stopped as stalled), while a kernel waiting for a lost message computes almost nothing."""

    def __init__(self, now: float, stall_seconds: float = STALL_SECONDS, alive_cpu: float = ALIVE_CPU_SECONDS):
        self.stall_seconds, self.alive_cpu = stall_seconds, alive_cpu
        self.last, self.lines, self.cpu_then = now, 0, 0.0

    def see(self, now: float, lines: int, cpu: float) -> None:
        if lines != self.lines or cpu - self.cpu_then >= self.alive_cpu:
            self.last, self.lines, self.cpu_then = now, lines, cpu

    def stalled(self, now: float) -> bool:
        return now - self.last > self.stall_seconds
KERNEL_DIED, TOO_MANY_PROCESSES, TOO_MUCH_MEMORY = "the kernel died", "too many processes", "too much memory"
MAX_LINE = 12 * 2**20  # one message from the run, as JSON text
RESULT_LIMITS = sandbox.Limits()


def lost_text(lost: str) -> str:
    """KERNEL_DIED, TOO_MANY_PROCESSES or TOO_MUCH_MEMORY, in words."""
    return {KERNEL_DIED: tr(KERNEL_DIED, "カーネルが止まりました"),
            TOO_MANY_PROCESSES: tr(TOO_MANY_PROCESSES, "プロセスが多すぎました"),
            TOO_MUCH_MEMORY: tr(TOO_MUCH_MEMORY, "メモリを使いすぎました")}[lost]


@dataclass
class Run:
    """What one run of the grading notebook sent back, checked and bounded."""
    records: dict = field(default_factory=dict)      # grade_id: {"ran", "cases": {i: {...}}, "flags": set}
    cell_errors: dict = field(default_factory=dict)  # grade_id: "SyntaxError: …"
    notebook: dict | None = None                     # the executed notebook, for the instructor
    stopped: str = ""                                # papermill's own words, if it stopped
    note: str = ""                                   # why the run stopped early, for the learner
    lost: str = ""                                   # KERNEL_DIED, TOO_MANY_PROCESSES, TOO_MUCH_MEMORY or ""
    stalled: bool = False                            # neither a message nor CPU time for STALL_SECONDS

    def take(self, line: bytes, known: dict[str, int]) -> None:
        """One line from the run: kept only if it is one of the messages execute.py sends, for a known
        exercise and case; the first message of each kind for each case wins."""
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return
        kind, gid = message["type"], message.get("grade_id")
        gid = gid if isinstance(gid, str) else None
        if kind == "notebook" and isinstance(message.get("notebook"), dict) and self.notebook is None:
            self.notebook = message["notebook"]
        elif kind == "stopped" and isinstance(message.get("reason"), str):
            self.stopped = self.stopped or message["reason"][:300]
        elif kind == "cell_error" and gid in known and isinstance(message.get("error"), str):
            self.cell_errors.setdefault(gid, message["error"][:300])
        elif kind == "probe" and gid in known and isinstance(message.get("record"), dict):
            self._probe(gid, message["record"], known[gid])

    def _probe(self, gid: str, record: dict, n_cases: int) -> None:
        entry = self.records.setdefault(gid, {"ran": False, "cases": {}, "flags": set()})
        if record.get("ran") is True:
            entry["ran"] = True
        if isinstance(record.get("flag"), str):
            entry["flags"].add(record["flag"][:200])
        case = record.get("case")
        if not (isinstance(case, int) and not isinstance(case, bool) and 0 <= case < n_cases):
            return
        entry["ran"] = True
        outcome = entry["cases"].setdefault(case, {})
        if record.get("started") is True:
            outcome.setdefault("started", True)
        elif "finished" not in outcome and ("value" in record or isinstance(record.get("error"), str)):
            outcome["finished"] = True
            if isinstance(record.get("error"), str):
                outcome["error"] = record["error"][:100]
                outcome["message"] = str(record.get("message", ""))[:500]
            elif "oversized" in record:
                outcome["error"] = "TooBig"
                outcome["message"] = "the value returned is too large to check"
            else:
                outcome["value"] = record["value"]


def execute(nb, specs: dict[str, dict], cell_timeout: int, timeout: int, parameters: dict,
            limits: sandbox.Limits = RESULT_LIMITS, threads: int = 1, no_sandbox: bool = False,
            trusted_timeout: int | None = None) -> Run:
    """Run the grading notebook in a world of its own (sandbox.py) and collect what it sends back over the
    one pipe the grader opened. Nothing is read from a folder the run could write."""
    here = Path(__file__).resolve().parent
    read, write = os.pipe()
    job = {"notebook": f"{INPUTS}/grading.ipynb", "parameters": parameters, "cell_timeout": cell_timeout,
           "trusted_timeout": trusted_timeout or max(600, 5 * cell_timeout), "channel": write,
           "memory_mb": limits.memory_mb, "fsize_mb": limits.disk_mb, "cpu_seconds": limits.cpu_seconds + 60}
    files = {f"{INPUTS}/grading.ipynb": nbformat.writes(nb).encode(),
             f"{INPUTS}/execute.py": (here / "execute.py").read_bytes(),
             f"{INPUTS}/plain.py": (here / "plain.py").read_bytes()}
    env = run_environment(threads)
    workdir = None
    if no_sandbox:  # trusted submissions only: the same run, in a temporary folder, without the world around it
        workdir = Path(tempfile.mkdtemp(prefix="shikumi-unsandboxed-"))
        inside = workdir / INPUTS.strip("/")
        inside.mkdir()
        for path, data in files.items():
            (workdir / path.strip("/")).write_bytes(data)
        job["notebook"] = str(inside / "grading.ipynb")
        job["nproc"] = limits.max_processes
        (inside / "job.json").write_text(json.dumps(job))
        nb_text = nbformat.writes(nb).replace(f"{INPUTS}/plain.py", str(inside / "plain.py"))
        (inside / "grading.ipynb").write_text(nb_text)
        env.update(HOME=str(workdir), MPLCONFIGDIR=str(workdir / ".mpl"), IPYTHONDIR=str(workdir / ".ipython"),
                   JUPYTER_RUNTIME_DIR=str(workdir / ".runtime"))
        argv, cwd = [sys.executable, str(inside / "execute.py"), str(inside / "job.json")], str(workdir)
        if sandbox.can_leave_root():  # as root (a Gradescope container): leave root, as the sandbox does, so
            uid = sandbox.new_run_uid()  # what root keeps (solutions, checks, results) stays out of reach
            for path in (workdir, *workdir.rglob("*")):
                os.chown(path, uid, uid)
            argv = sandbox.leave_root(argv, uid)
            env.update(USER="learner", LOGNAME="learner")  # a uid with no account: getpass still has a name
        env_arg = env
    else:
        files[f"{INPUTS}/job.json"] = json.dumps(job).encode()
        argv = sandbox.command([sys.executable, f"{INPUTS}/execute.py", f"{INPUTS}/job.json"], files, env, limits)
        cwd, env_arg = "/", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    watch = sandbox.Watch(limits)
    run = Run()
    known = {gid: len(spec["cases"]) for gid, spec in specs.items()}
    try:
        proc = subprocess.Popen(watch.command(argv), cwd=cwd, env=env_arg, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                pass_fds=[write, *sandbox.data_fds(argv)], start_new_session=True)
    finally:
        os.close(write)
        sandbox.close_data(argv)
    lines: list[bytes] = []
    reader = threading.Thread(target=_read_lines, args=(read, lines, limits.output_mb * 2**20), daemon=True)
    errors = bytearray()
    err_reader = threading.Thread(target=_read_tail, args=(proc.stderr, errors), daemon=True)
    reader.start()
    err_reader.start()
    deadline = time.monotonic() + timeout
    alive = Liveness(time.monotonic(), STALL_SECONDS)
    try:
        while proc.poll() is None:
            time.sleep(WATCH_SECONDS)
            alive.see(time.monotonic(), len(lines), watch.cpu_seconds(proc.pid))
            over = watch.exceeded(proc.pid)
            if over == "processes":
                run.lost = TOO_MANY_PROCESSES
                run.note = tr(f"your code started too many processes (limit {limits.max_processes}); the run "
                                 "was stopped",
                                 f"コードが起動したプロセスが多すぎたため（上限 {limits.max_processes}）、実行を止めました")
            elif over == "memory":
                run.lost = TOO_MUCH_MEMORY
                run.note = tr(f"your code used more than {limits.memory_mb} MB of memory; the run was stopped",
                                 f"コードが {limits.memory_mb} MB を超えるメモリを使ったため、実行を止めました")
            elif over == "cpu":
                run.note = tr(f"the run used more than {limits.cpu_seconds} s of CPU time and was stopped",
                                 f"実行が CPU 時間 {limits.cpu_seconds} 秒を超えたため、止めました")
            elif alive.stalled(time.monotonic()):  # e.g. a kernel reply lost on the way
                run.stalled = True
                run.note = tr(f"the run made no progress for {STALL_SECONDS} s and was stopped",
                                 f"実行が {STALL_SECONDS} 秒間進まなかったため、止めました")
            elif time.monotonic() > deadline:
                run.note = tr(f"the whole notebook took longer than {timeout} s and was stopped",
                                 f"ノートブック全体の実行が {timeout} 秒を超えたため、止めました")
            else:
                continue
            break
    finally:
        watch.kill(proc.pid)
        proc.wait()
        watch.close()
        reader.join(30)
        err_reader.join(5)
        os.close(read)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in lines:
        run.take(line, known)
    if not run.note and run.stopped:
        run.lost = KERNEL_DIED if "DeadKernel" in run.stopped else ""
        run.note = tr(f"execution stopped: {run.stopped}", f"ノートブックの実行が途中で止まりました（{run.stopped}）")
    elif not run.note and proc.returncode:
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        run.note = tr(f"the notebook run failed (exit {proc.returncode}) {tail[0][:200]}".strip(),
                         f"ノートブックの実行に失敗しました（終了コード {proc.returncode}）{tail[0][:200]}".strip())
    return run


def run_environment(threads: int) -> dict[str, str]:
    """The run's whole environment: nothing of the grader's, but the few settings numeric libraries need."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": sandbox.HOME,
           "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{sandbox.HOME}/.config/matplotlib",
           "IPYTHONDIR": f"{sandbox.HOME}/.ipython", "JUPYTER_RUNTIME_DIR": f"{sandbox.HOME}/.runtime",
           "JUPYTER_PLATFORM_DIRS": "1", "PYTHONDONTWRITEBYTECODE": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    import shikumi

    env["PYTHONPATH"] = str(Path(shikumi.__file__).resolve().parent.parent)  # the library this grader uses
    for key, value in os.environ.items():  # e.g. OPENBLAS_CORETYPE, which some processors need
        if key.startswith(("OPENBLAS_", "MKL_", "KMP_")) and len(value) < 200:
            env[key] = value
    return env


def _read_lines(fd: int, lines: list[bytes], budget: int) -> None:
    """Every line the run sends, up to `budget` bytes in all and MAX_LINE bytes each; the rest is read and
    dropped, so a run that floods the pipe neither blocks nor fills the grader's memory."""
    pending = bytearray()
    dropping = False
    with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
        while chunk := f.read(1 << 16):
            while chunk:
                head, newline, chunk = chunk.partition(b"\n")
                if not dropping and len(pending) + len(head) <= min(MAX_LINE, budget):
                    pending += head
                else:
                    dropping = True
                    pending.clear()
                if newline:
                    if not dropping and pending:
                        budget -= len(pending)
                        lines.append(bytes(pending))
                    pending.clear()
                    dropping = False


def _read_tail(stream, tail: bytearray, keep: int = 64 * 1024) -> None:
    """The last `keep` bytes of a stream, however much comes."""
    while chunk := stream.read(1 << 16):
        tail += chunk
        del tail[:-keep]


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------

def score_exercise(exercise, check, cases, record, verdicts, answer, stubs, note, cell_error,
                   cell_timeout) -> ExerciseResult:
    """The points and the message for one exercise: `record` is what its probe sent back (Run.records),
    `verdicts` {case index: None or the hidden check's message} for the cases that returned a value."""
    def result(score: float, output: str) -> ExerciseResult:
        return ExerciseResult(exercise.number, exercise.grade_id, round(score, 4), exercise.points,
                              (note + output).strip())

    if answer is None:
        return result(0, tr(f"Not attempted: the answer cell for {exercise.grade_id} is missing from your notebook "
                               "(was it deleted?).",
                               f"未解答：ノートブックに {exercise.grade_id} の答えのセルがありません（削除しませんでしたか？）。"))
    if _normalise(answer) in stubs:
        return result(0, tr("Not attempted: the cell still raises NotImplementedError.",
                               "未解答：セルはまだ NotImplementedError を送出します。"))
    if record is None or not record.get("ran"):
        why = tr(f" Your cell raised {cell_error}.", f"あなたのセルで {cell_error} が発生しました。") if cell_error else ""
        return result(0, tr(f"Not graded: the notebook stopped before this exercise could be checked.{why}",
                               f"採点できませんでした：この演習を確かめる前に、ノートブックの実行が止まりました。{why}"))
    if record["flags"]:
        names = ", ".join(f"`{ref.replace(':', '.')}`" for ref in sorted(record["flags"]))
        return result(0, tr(f"Flagged: your answer uses the library's own solution ({names}). The exercise is "
                               "to write it yourself — the library is there to read and compare with afterwards.",
                               f"0 点：答えがライブラリ自身の解答（{names}）を使っています。この演習は自分で書くものです。"
                               "ライブラリは、書いたあとで読んで比べるためにあります。"))
    passed, main_passed, first_problem = 0, 0, None
    for index, case in enumerate(cases):
        outcome = record["cases"].get(index)
        call = checks_registry.call_text(check.name, case)
        if outcome is None:
            problem = tr("not run (the notebook stopped before this case)",
                            "実行されませんでした（このケースの前にノートブックの実行が止まりました）。")
        elif not outcome.get("finished"):
            problem = tr(f"{call} did not finish within {cell_timeout} s: is there a loop that never ends?",
                            f"{call} が {cell_timeout} 秒以内に終わりませんでした。終わらないループはありませんか？")
        elif "error" in outcome:
            if outcome["error"] == "NotImplementedError":
                return result(0, tr("Not attempted: your function still raises NotImplementedError.",
                                       "未解答：関数はまだ NotImplementedError を送出します。"))
            error = f"{outcome['error']}: {outcome['message']}"
            problem = tr(f"{call} raised {error.rstrip('.')}.", f"{call} で {error} が発生しました。") \
                + checks_registry.explain_error(check, case, outcome["error"], outcome["message"])
            if outcome["error"] == "NameError" and cell_error:
                problem = tr(f"{check.name} is not defined, because your cell raised {cell_error}",
                                f"あなたのセルで {cell_error} が発生したため、{check.name} が定義されていません。")
        else:
            problem = verdicts.get(index, tr(f"{call}: not checked.", f"{call}：確認できませんでした。"))
        if problem is None:
            passed += 1
            main_passed += not case.edge
        elif first_problem is None:
            first_problem = problem
    total = len(cases)
    if main_passed == 0 and passed:  # only edge cases right: e.g. `return 0.0`
        main = sum(not case.edge for case in cases)
        which = "the one that did is a special case" if passed == 1 else f"the {passed} that did are special cases"
        return result(0, tr(f"None of the {main} main checks passed; {which} (an "
                               "empty input, an unseen context…), which count only once a main check passes. ",
                               f"メインのチェック {main} 個のうち、合格したものはありません。合格した {passed} 個は特別な"
                               "ケース（空の入力、見たことのない文脈など）で、メインのチェックに合格してはじめて点になります。")
                      + first_problem)
    if passed == total:
        return result(exercise.points, tr(f"All {total} checks passed.", f"{total} 個のチェックすべてに合格しました。"))
    return result(exercise.points * passed / total,
                  tr(f"{passed} of {total} checks passed. ", f"{total} 個のチェックのうち {passed} 個に合格しました。")
                  + first_problem)


def point_to_failed_helpers(tests: list[ExerciseResult], exercises, checks, answers: dict[str, str]) -> None:
    """An answer that calls the function of another exercise that did not pass (sentence_logprob calling the
    learner's own conditional_prob) may be right and still fail: say so, so the learner fixes that one first."""
    failed = {t.grade_id for t in tests if t.status == "failed"}
    for t in tests:
        if t.status != "failed" or t.grade_id not in answers:
            continue
        used = _names_used(answers[t.grade_id])
        helpers = [tr(f"{checks[e.grade_id].name} (exercise {e.number})", f"{checks[e.grade_id].name}（演習 {e.number}）")
                   for e in exercises
                   if e.grade_id != t.grade_id and e.grade_id in failed and checks[e.grade_id].name in used]
        if helpers:
            names = tr(", ", "、").join(helpers)
            t.output += tr(f" This answer calls your {names}, which did not pass: fix that first, and this one "
                              f"may pass too.",
                              f"この答えは、合格しなかった {names}を呼んでいます。先にそちらを直すと、こちらも合格するかもしれません。")


def _names_used(source: str) -> set[str]:
    """The names an answer's code refers to (read, never run); none when it does not parse."""
    try:
        return {node.id for node in ast.walk(release.parse_python(source)) if isinstance(node, ast.Name)}
    except SyntaxError:
        return set()


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def stopped_by(lost: str, limits: sandbox.Limits) -> str:
    """What the learner whose answer ended the whole run is told."""
    why = {KERNEL_DIED: tr("Your answer stopped the Python kernel (os._exit, a crash, running out of memory…)",
                              "あなたの答えが Python のカーネルを止めました（os._exit、クラッシュ、メモリ不足など）"),
           TOO_MANY_PROCESSES: tr(f"Your code started too many processes (at most {limits.max_processes} may run "
                                     "at once)",
                                     f"あなたのコードが起動したプロセスが多すぎました（同時に動かせるのは "
                                     f"{limits.max_processes} 個まで）"),
           TOO_MUCH_MEMORY: tr(f"Your code used too much memory (at most {limits.memory_mb} MB for the whole run)",
                                  f"あなたのコードがメモリを使いすぎました（実行全体で {limits.memory_mb} MB まで）")}[lost]
    return why + tr(", so the exercises after it were graded in a second run without it.",
                       "。そのため、この演習のあとの演習は、この答えを除いてもう一度実行して採点しました。")


def _culprit(exercises, reached: dict, answers: dict[str, str], stubs: set[str]) -> str | None:
    """The exercise whose answer ended a run: the last one the run reached, if one of its cases never
    finished, else the next one with an answer (its own cell ended the run)."""
    order = [e.grade_id for e in exercises]
    last = max((order.index(g) for g in reached), default=-1)
    if last >= 0 and any(not o.get("finished") for o in reached[order[last]]["cases"].values()):
        return order[last]
    return next((g for g in order[last + 1:] if g in answers and _normalise(answers[g]) not in stubs), None)


def submission_seed(answers: dict[str, str]) -> int:
    """Check inputs depend on the answers themselves: the same submission always meets the same inputs,
    and nobody can know them before writing the code that gets them."""
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()
    return int(digest[:12], 16)


def grade_submission(path: str | Path, executed_to: str | Path | None = None, **options) -> SubmissionResult:
    """Grade one submission file; the notebook as it ran goes to `executed_to`. Never raises."""
    student_id = options.pop("student_id", None) or Path(path).stem
    try:
        raw = read_bytes(Path(path))
    except SubmissionError as e:
        return SubmissionResult(submission=str(path), student_id=student_id, error=str(e))
    res, executed = grade_bytes(raw, Path(path).name, student_id=student_id, **options)
    res.submission = str(path)
    if executed_to is not None and executed is not None:
        Path(executed_to).parent.mkdir(parents=True, exist_ok=True)
        Path(executed_to).write_text(executed, encoding="utf-8")
    return res


def grade_bytes(raw: bytes, name: str, student_id: str = "", **options) -> tuple[SubmissionResult, str | None]:
    """Grade one submission from its bytes alone: `name` is its file name (a lesson may be known by it), never
    a path that is opened. Returns the result and the notebook as it ran (nbformat text, or None). Never
    raises: a problem of the grader itself becomes an error line too. Both `shikumi grade` and a Dask worker
    grade through here (autograder/wire.py)."""
    res = SubmissionResult(submission=name, student_id=student_id or PurePosixPath(name).stem)
    try:
        return _grade(res, raw, PurePosixPath(name), **options)
    except Exception as e:  # a bug in the grader must not take the rest of a class down with it
        import traceback

        failed = SubmissionResult(submission=res.submission, student_id=res.student_id, language=res.language)
        with speaking(failed.language):
            failed.error = tr(f"internal grader error ({type(e).__name__}: {e}); please report it",
                                 f"採点プログラムの内部エラーです（{type(e).__name__}: {e}）。講師に知らせてください")
        failed.note = traceback.format_exc()[-3000:]  # kept in the results file, for the bug report
        return failed, None


def _grade(res: SubmissionResult, raw: bytes, path: PurePosixPath, **options) -> tuple[SubmissionResult, str | None]:
    """Read the submission, then grade it in its own language."""
    started = time.perf_counter()
    try:
        nb = parse_submission(raw)  # until it is read, its language is unknown: English
    except SubmissionError as e:
        res.error, res.seconds = str(e), time.perf_counter() - started
        return res, None
    res.language = which_language(nb)
    with speaking(res.language):
        return _grade_notebook(res, nb, path, started, **options)


def _grade_notebook(res: SubmissionResult, nb, path: PurePosixPath, started: float, *,
                    cell_timeout: int = 120, timeout: int = 3600, seed: int | None = None,
                    limits: sandbox.Limits | None = None, threads: int = 1, no_sandbox: bool = False,
                    trusted_timeout: int | None = None) -> tuple[SubmissionResult, str | None]:
    limits = limits or sandbox.Limits()
    if not no_sandbox and sandbox.unavailable():
        res.error = tr(f"cannot grade safely on this machine: {sandbox.unavailable()}",
                        f"このマシンでは安全に採点できません：{sandbox.unavailable()}")
        return res, None
    try:
        res.lesson = which_lesson(nb, path)
        verify.warm(res.lesson)  # the checking process starts while the notebook runs
        source = release.read_source(release.source_path(res.lesson))
        exercises = release.exercises(source)
        trusted = release.build_lesson(source, "en")
        all_checks = checks_registry.for_lesson(res.lesson)
    except SubmissionError as e:
        res.error, res.seconds = str(e), time.perf_counter() - started
        return res, None
    res.max_score = sum(e.points for e in exercises)

    answers, notes = answers_of(nb, exercises)
    res.answers = dict(answers)
    res.seed = submission_seed(answers) if seed is None else seed
    rng = random.Random(res.seed)
    order = [e.grade_id for e in exercises]
    cases = {gid: all_checks[gid].cases(rng) for gid in order}  # verify.judge draws them again in this order
    specs = {gid: {"name": all_checks[gid].name, "kind": all_checks[gid].kind,
                   "references": list(all_checks[gid].references),
                   "cases": [{"args": encode(tuple(c.args)), "kwargs": encode(dict(c.kwargs)),
                              "state": None if c.state is None else encode(dict(c.state)),
                              "inputs": encode(tuple(c.inputs)), "build": c.build} for c in cases[gid]]}
             for gid in order}
    stubs = {_normalise(c.source) for lang in release.LANGS
             for c in release.build_lesson(source, lang).cells if release.is_answer_cell(c)}
    watch = harness.new_watch_name()
    executed, errors, records, crashed = None, {}, {}, {}
    run_answers, retried, stall_retried = dict(answers), [], False
    for _ in range(4):  # a run that the learner's code ended is repeated without the answer that did it
        if not any(_normalise(src) not in stubs for src in run_answers.values()):
            break  # nothing (left) to run: a blank lesson costs no kernel at all
        run = execute(grading_notebook(trusted, run_answers, specs, watch), specs, cell_timeout, timeout,
                      GRADING_PARAMETERS, limits=limits, threads=threads, no_sandbox=no_sandbox,
                      trusted_timeout=trusted_timeout)
        if run.stalled and not stall_retried:  # a lost message is no fault of the learner's: once more
            stall_retried = True
            continue
        executed = run.notebook if run.notebook is not None else executed
        errors.update({k: v for k, v in run.cell_errors.items() if k not in records})
        reached = {gid: r for gid, r in run.records.items() if r["ran"]}
        records.update({k: r for k, r in reached.items() if k not in records})
        culprit = _culprit(exercises, reached, run_answers, stubs) if run.lost else None
        if culprit is None:
            res.note = tr("; ", "。").join([*retried, run.note] if run.note else retried)
            break
        crashed[culprit] = stopped_by(run.lost, limits)
        run_answers[culprit] = release.stub(next(e for e in exercises if e.grade_id == culprit), "en")
        retried.append(tr(f"{run.lost} in exercise {culprit}; the rest was graded without it",
                             f"{culprit} の答えで{lost_text(run.lost)}。残りはそれを除いて採点しました"))
        res.note = tr("; ", "。").join(retried)
    items = [verify.Item(gid, i, outcome["value"]) for gid, record in records.items() if gid not in crashed
             for i, outcome in sorted(record["cases"].items()) if outcome.get("finished") and "value" in outcome]
    verdicts = dict(zip([(i.grade_id, i.case) for i in items],
                        verify.judge(res.lesson, res.language, res.seed, order, items))) if items else {}
    for e in exercises:
        if e.grade_id in crashed:
            res.tests.append(ExerciseResult(e.number, e.grade_id, 0, e.points, crashed[e.grade_id]))
            continue
        mine = {case: v for (gid, case), v in verdicts.items() if gid == e.grade_id}
        res.tests.append(score_exercise(e, all_checks[e.grade_id], cases[e.grade_id], records.get(e.grade_id), mine,
                                        answers.get(e.grade_id), stubs, notes.get(e.grade_id, ""),
                                        errors.get(e.grade_id), cell_timeout))
    point_to_failed_helpers(res.tests, exercises, all_checks, answers)
    if no_sandbox:
        res.note = tr("; ", "。").join(filter(None, [res.note, tr(NO_SANDBOX_NOTE, NO_SANDBOX_NOTE_JA)]))
    text = None
    if executed is not None:  # for the instructor: what the run printed
        try:
            text = nbformat.writes(nbformat.from_dict(executed))
        except Exception:  # not a notebook after all: the run sent something else
            text = None
    res.score = round(sum(t.score for t in res.tests), 4)
    res.seconds = time.perf_counter() - started
    return res, text


NO_SANDBOX_NOTE = "graded WITHOUT a sandbox (--no-sandbox): for trusted submissions only"
NO_SANDBOX_NOTE_JA = "サンドボックスなしで採点しました（--no-sandbox）。信頼できる提出物にだけ使ってください"


def as_dict(res: SubmissionResult) -> dict:
    return asdict(res)

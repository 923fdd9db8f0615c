"""Grading a whole class: find the submissions, grade them in parallel, never lose a finished grade.

Layouts accepted by `shikumi grade PATH ...` (PATH may be files and folders, mixed):

    submissions/alice.ipynb                      a flat folder: the file name is the learner
    submissions/alice/01_ngram.ipynb             one folder per learner (any file names inside)
    submitted/alice/lesson01/01_ngram.ipynb      nbgrader's layout: submitted/<student>/<assignment>/

Each result is written as soon as it is finished, atomically, to OUT/<student>/<lesson>.json (Gradescope's
results.json shape) with an HTML feedback page beside it; OUT/gradebook.csv is rebuilt from those files after
every submission. A re-run skips submissions whose results already match their content hash, so a batch that
was killed half-way resumes where it stopped.

With `--scheduler`, the grading itself runs on Dask workers (cluster.py); everything above stays here. Either
way one submission is graded by wire.grade_task and its result written by `record`, after wire.accept.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder import grade as grading
from autograder import language, report, sandbox, wire
from autograder.language import say
from shikumi import release

GRADER_VERSION = "4"  # 2: feedback in the edition's language; 3: points to failed helpers; 4: bubblewrap
SKIP_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}


class SandboxMissing(RuntimeError):
    """This machine cannot build the run's world (bubblewrap, user namespaces): say how to get it."""


@dataclass
class Submission:
    path: Path
    student_id: str
    lesson: str = ""
    problem: str | None = None  # known before grading: a duplicate, an unreadable file…
    language: str = "en"        # of the edition handed in, once read


def discover(paths: list[str | Path]) -> list[Submission]:
    """Every submission under `paths`, with the learner it belongs to. Symbolic links are never followed:
    a link is refused with a reason (it could point at a solution, or at anything on the machine)."""
    found: list[Submission] = []
    for path in map(Path, paths):
        if path.is_symlink():
            found.append(Submission(path, path.stem, problem=LINK_PROBLEM))
        elif not path.exists():
            found.append(Submission(path, path.stem, problem=f"{path}: no such file or folder"))
        elif path.is_file():
            found.append(Submission(path, path.stem))
        elif (path / "submitted").is_dir() and not (path / "submitted").is_symlink():
            found += _nbgrader_layout(path / "submitted")
        elif path.name == "submitted":
            found += _nbgrader_layout(path)
        else:
            for child in sorted(path.iterdir()):
                if child.name in SKIP_NAMES or child.name.startswith("."):
                    continue
                if child.is_symlink():
                    found.append(Submission(child, child.stem, problem=LINK_PROBLEM))
                elif child.is_file():
                    found.append(Submission(child, child.stem))
                elif child.is_dir():
                    found += [Submission(f, child.name, problem=LINK_PROBLEM if f.is_symlink() else None)
                              for f in _files(child)]
    _refuse_colliding_ids(found)
    return found


LINK_PROBLEM = "the file is a symbolic link, not a notebook: hand in the file itself"


def _nbgrader_layout(submitted: Path) -> list[Submission]:
    """submitted/<student>/<assignment>/*.ipynb; nbgrader's own timestamp.txt there is not a submission."""
    return [Submission(f, student.name, problem=LINK_PROBLEM if f.is_symlink() else None)
            for student in sorted(submitted.iterdir()) if student.is_dir() and not student.is_symlink()
            for f in _files(student) if f.name != "timestamp.txt"]


def _files(folder: Path) -> list[Path]:
    """The files under `folder`, symbolic links included (to be refused) but never followed."""
    files = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_NAMES and not d.startswith("."))
        for name in names:
            f = Path(root) / name
            if name not in SKIP_NAMES and not name.startswith(".") and f.suffix in (".ipynb", ".json", ".txt", ".py", ""):
                files.append(f)
    return sorted(files)


def _refuse_colliding_ids(subs: list[Submission]) -> None:
    """Two learners whose ids become one folder name (`bob_smith`, `bob~smith`) would overwrite each other's
    results: both are refused, with a reason, and nothing is overwritten."""
    by_folder = defaultdict(set)
    for sub in subs:
        by_folder[_safe(sub.student_id)].add(sub.student_id)
    for sub in subs:
        ids = by_folder[_safe(sub.student_id)]
        if len(ids) > 1 and sub.problem is None:
            others = ", ".join(sorted(repr(i) for i in ids))
            sub.problem = (f"the learner ids {others} become one folder name ({_safe(sub.student_id)!r}): "
                           "rename one and grade again")


def identify(subs: list[Submission]) -> None:
    """Find each submission's lesson now (cheap), and flag two submissions of one lesson by one learner.
    Whatever goes wrong with one file is that file's reason; the others go on."""
    for sub in subs:
        if sub.problem is None:
            try:
                nb = grading.read_submission(sub.path)
                sub.language = grading.which_language(nb)
                with language.speaking(sub.language):
                    sub.lesson = grading.which_lesson(nb, sub.path)
            except grading.SubmissionError as e:
                sub.problem = str(e)
            except Exception as e:  # noqa: BLE001 — any file, however hostile, costs only its own grade
                sub.problem = f"not a readable notebook ({type(e).__name__})"
    groups = defaultdict(list)
    for sub in subs:
        if sub.lesson and sub.problem is None:
            groups[(sub.student_id, sub.lesson)].append(sub)
    for (student, lesson), group in groups.items():
        if len(group) > 1:
            names = ", ".join(s.path.name for s in group)
            for sub in group:
                with language.speaking(sub.language):
                    sub.problem = say(f"{student} handed in {len(group)} notebooks for lesson {lesson} ({names}): "
                                      "keep one and grade again",
                                      f"{student}：レッスン {lesson} のノートブックが {len(group)} 個提出されています"
                                      f"（{names}）。1 つだけ残して、採点し直してください")


def content_hash(sub: Submission) -> str:
    """Changes when the submission, its lesson, its hidden checks or the grader change."""
    h = hashlib.sha256(GRADER_VERSION.encode())
    files = [sub.path]
    if sub.lesson:
        files += [release.course_root() / "solutions" / f"{sub.lesson}.ipynb",
                  Path(grading.checks_registry.__file__).parent / f"l{sub.lesson}.py"]
    for f in files:
        h.update(_read_bounded(f))
    return h.hexdigest()


def _read_bounded(path: Path) -> bytes:
    """The file's bytes (never through a symlink, never more than a notebook may have)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b"<unreadable>"
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b"<not a file>"
        return f.read(grading.MAX_NOTEBOOK_BYTES + 1)


def result_path(out_dir: Path, sub: Submission) -> Path:
    """OUT/<student>/<lesson>.json; a submission that cannot be graded is filed under its own file name and a
    hash of its path, so two refused files never share a result."""
    if sub.problem or not sub.lesson:
        tag = hashlib.sha256(str(sub.path).encode("utf-8", "surrogateescape")).hexdigest()[:8]
        return out_dir / _safe(sub.student_id) / f"{_safe(sub.path.name)}-{tag}.json"
    return out_dir / _safe(sub.student_id) / f"{_safe(sub.lesson)}.json"


def _safe(name: str) -> str:
    """A folder or file name made of letters, digits and - _ . @ only (never "." or "..")."""
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)[:100]
    return safe if safe.strip(".") else "_" + safe


def already_graded(out_dir: Path, sub: Submission, digest: str) -> bool:
    try:
        data = json.loads(result_path(out_dir, sub).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("extra_data", {}).get("content_hash") == digest


def grade_one(sub: Submission, out_dir: Path, digest: str, **options) -> grading.SubmissionResult:
    """Grade one submission on this machine, through the same plain-data result a Dask worker sends
    (autograder/wire.py), and write its results. Never raises: a failure is this submission's reason."""
    if sub.problem:
        return write(refused(sub), out_dir, sub, digest)
    try:
        raw = grading.read_bytes(sub.path)
    except grading.SubmissionError as e:
        sub.problem = str(e)
        return write(refused(sub), out_dir, sub, digest)
    return record(sub, raw, wire.grade_task(raw, sub.path.name, options), out_dir, digest, options.get("seed"))


def refused(sub: Submission) -> grading.SubmissionResult:
    """The result of a submission that was not graded, for the reason in `sub.problem`."""
    return grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id, lesson=sub.lesson,
                                    error=sub.problem, language=sub.language)


def record(sub: Submission, raw: bytes, payload: object, out_dir: Path, digest: str, seed: int | None = None,
           course: str | None = None) -> grading.SubmissionResult:
    """Check a result (grade_task's JSON text, from this machine or a worker; or the exception its Dask task
    ended with) and write it. One that is not believed is written as "not graded", to be graded again by the
    next run, and never over a result already there."""
    try:
        if isinstance(payload, BaseException):
            raise wire.Rejected(f"its task failed on the Dask cluster ({type(payload).__name__}: "
                                f"{str(payload)[:200]})")
        accepted = wire.accept(payload, raw, sub, seed, course)
    except wire.Rejected as e:
        where = wire.worker_name(payload)
        res = refused(sub)
        res.error = f"not graded: the result{f' from {where}' if where else ''} was rejected: {e}"
        if not result_path(out_dir, sub).exists():
            write(res, out_dir, sub, "")
        return res
    final = accepted.result.error is None  # a notebook read and identified here that still could not be graded
    return write(accepted.result, out_dir, sub, digest if final else "", accepted.executed)  # (an internal error)


def write(res: grading.SubmissionResult, out_dir: Path, sub: Submission, digest: str,
          executed: str | None = None) -> grading.SubmissionResult:
    """The one writer of a submission's results; a result that cannot be written says so."""
    try:
        report.write_submission(res, result_path(out_dir, sub), digest, executed)
    except Exception as e:  # noqa: BLE001 — the disk is full, a name the file system refuses…
        res.error = res.error or f"the results could not be written ({type(e).__name__}: {str(e)[:200]})"
    return res


def grade_batch(paths: list[str | Path], out_dir: str | Path, workers: int = 1, progress: bool = True,
                scheduler: str | None = None, **options) -> tuple[list[grading.SubmissionResult], int]:
    """Grade everything under `paths`; returns (the results, how many were skipped as already graded).
    With `scheduler` (a Dask scheduler's address), the grading runs on its workers (autograder/cluster.py):
    this machine only reads the submissions and writes the results."""
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    client = None
    if scheduler:
        from autograder import cluster

        client = cluster.connect(scheduler)  # cluster.Unreachable: said before anything is written
    elif not options.get("no_sandbox") and sandbox.unavailable():
        raise SandboxMissing(f"cannot grade safely on this machine: {sandbox.unavailable()}. "
                             "(--no-sandbox grades without it: for trusted submissions only)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        subs = discover(paths)
        identify(subs)
        todo, skipped = [], 0
        for sub in subs:
            digest = content_hash(sub)
            if already_graded(out_dir, sub, digest):
                skipped += 1
            else:
                todo.append((sub, digest))
        results = []
        with tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress) as bar:
            def finished(res: grading.SubmissionResult, rebuild: bool = True) -> None:
                results.append(res)
                if rebuild:
                    report.rebuild_gradebook(out_dir)  # a crash loses nothing finished
                bar.update()

            if client is not None:
                cluster.grade(client, todo, out_dir, options, finished)
            else:
                _grade_here(todo, out_dir, workers, options, finished)
        report.rebuild_gradebook(out_dir)
    finally:
        if client is not None:
            client.close()
    order = {str(s.path): i for i, (s, _) in enumerate(todo)}
    return sorted(results, key=lambda r: order.get(r.submission, 0)), skipped


def _grade_here(todo: list, out_dir: Path, workers: int, options: dict, finished) -> None:
    """`workers` submissions at a time on this machine."""
    options.setdefault("threads", max(1, (os.cpu_count() or 1) // max(1, workers)))  # the cores, shared by workers
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(grade_one, sub, out_dir, digest, **options): sub for sub, digest in todo}
        for future in as_completed(futures):
            try:
                res = future.result()
            except Exception as e:  # noqa: BLE001 — never: grade_one does not raise; but if it did, go on
                sub = futures[future]
                res = grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id,
                                               error=f"internal grader error ({type(e).__name__})")
            finished(res)

"""Grading a whole class: find the submissions, grade them in parallel, never lose a finished grade.

Layouts accepted by `shikumi grade PATH ...` (PATH may be files and folders, mixed):

    submissions/alice.ipynb                      a flat folder: the file name is the learner
    submissions/alice/01_ngram.ipynb             one folder per learner (any file names inside)
    submitted/alice/lesson01/01_ngram.ipynb      nbgrader's layout: submitted/<student>/<assignment>/
    01_ngram.ipynb --student alice               one file given alone: --student says whose it is

A file given alone (or in a flat folder) is filed under its file name, unless that name is a lesson's
(`01_ngram.ipynb` says which lesson, not whose): then `--student ID` must say whose it is, else it is refused
with that reason. In nbgrader's layout, the assignment's timestamp.txt is the submission time (else the file's
modification time; see policy.py).

Each result is written as soon as it is finished, atomically, to OUT/<student>/<lesson>.json (Gradescope's
results.json shape) with an HTML feedback page beside it; OUT/gradebook.csv is rebuilt from those files after
every submission. A re-run skips submissions whose results already match their content hash, so a batch that
was killed half-way resumes where it stopped; `force` grades them again, `exercise` re-checks one exercise and
keeps the others' stored results, `student` grades one learner's submissions only. The course policy (due dates,
late penalties, overrides) is applied to the stored results every run, without grading again.

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
from autograder import policy, report, sandbox, similarity, wire
from shikumi.course import release
from shikumi.lang import speaking, tr

GRADER_VERSION = "5"  # 2: feedback in the edition's language; 3: points to failed helpers; 4: bubblewrap;
# 5: results record the assignment, the submission time, the grade ids and the submission's own hash
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
    assignment: str = ""        # nbgrader's assignment name (the folder under submitted/<student>/), if any
    timestamp_file: Path | None = None  # nbgrader's timestamp.txt for it, if any


def discover(paths: list[str | Path], student: str | None = None) -> list[Submission]:
    """Every submission under `paths`, with the learner it belongs to; only `student`'s if given (who also
    owns a file given alone). Symbolic links are never followed: a link is refused with a reason (it could
    point at a solution, or at anything on the machine)."""
    found: list[Submission] = []
    for path in map(Path, paths):
        if path.is_symlink():
            found.append(Submission(path, student or path.stem, problem=LINK_PROBLEM))
        elif not path.exists():
            found.append(Submission(path, student or path.stem, problem=f"{path}: no such file or folder"))
        elif path.is_file():
            found.append(Submission(path, student) if student else _named_by_file(path))
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
                    found.append(_named_by_file(child))
                elif child.is_dir():
                    found += [Submission(f, child.name, problem=LINK_PROBLEM if f.is_symlink() else None)
                              for f in _files(child)]
    if student is not None:
        found = [sub for sub in found if sub.student_id == student]
    _refuse_colliding_ids(found)
    return found


LINK_PROBLEM = "the file is a symbolic link, not a notebook: hand in the file itself"
UNKNOWN = "(unknown)"  # the learner of a file that does not say whose it is


def _named_by_file(path: Path) -> Submission:
    """A file whose name is its learner's; a lesson's name is no learner's (`shikumi grade 01_ngram.ipynb`)."""
    if path.stem.lower() in {p.stem.lower() for p in release.sources()}:
        return Submission(path, UNKNOWN, problem=f"{path.name} is named after its lesson, not its learner: "
                                                   "say whose it is with --student ID (or name the file after them)")
    return Submission(path, path.stem)


NBGRADER_OWN = ("timestamp.txt", "submission_secret.txt")   # what nbgrader submit adds beside the notebooks


def _nbgrader_layout(submitted: Path) -> list[Submission]:
    """submitted/<student>/<assignment>/*.ipynb; nbgrader's own files there are not submissions (its
    timestamp.txt is the time it was handed in)."""
    found = []
    for student in sorted(submitted.iterdir()):
        if not student.is_dir() or student.is_symlink():
            continue
        for f in _files(student):
            if f.name in NBGRADER_OWN:
                continue
            parts = f.relative_to(student).parts
            assignment = parts[0] if len(parts) > 1 else ""
            found.append(Submission(f, student.name, problem=LINK_PROBLEM if f.is_symlink() else None,
                                    assignment=assignment,
                                    timestamp_file=student / assignment / "timestamp.txt" if assignment else None))
    return found


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
                with speaking(sub.language):
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
                with speaking(sub.language):
                    sub.problem = tr(f"{student} handed in {len(group)} notebooks for lesson {lesson} ({names}): "
                                       "keep one and grade again",
                                       f"{student}：レッスン {lesson} のノートブックが {len(group)} 個提出されています"
                                       f"（{names}）。1 つだけ残して、採点し直してください")


def submission_facts(sub: Submission) -> dict:
    """What the results file records about the submission besides its grade: its nbgrader assignment, when it
    was handed in (and from where that is known), and a hash of its bytes."""
    when = policy.submitted_at(sub.path, sub.timestamp_file)
    return {"assignment": sub.assignment, "submitted_at": when.when.isoformat() if when.when else None,
            "submitted_at_source": when.source, "submitted_at_note": when.note,
            "submission_sha256": hashlib.sha256(_read_bounded(sub.path)).hexdigest()}


def content_hash(sub: Submission) -> str:
    """Changes when the submission, its lesson, its hidden checks or the grader change."""
    h = hashlib.sha256(GRADER_VERSION.encode())
    files = [sub.path]
    if sub.lesson:
        files += [release.source_path(sub.lesson),
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


def stored_result(out_dir: Path, sub: Submission) -> dict | None:
    try:
        data = json.loads(result_path(out_dir, sub).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("extra_data"), dict) else None


def already_graded(out_dir: Path, sub: Submission, digest: str) -> bool:
    data = stored_result(out_dir, sub)
    return data is not None and data["extra_data"].get("content_hash") == digest


def refresh_facts(out_dir: Path, sub: Submission, facts: dict) -> None:
    """A result kept as it is still learns a new submission time (an nbgrader timestamp.txt put right)."""
    data = stored_result(out_dir, sub)
    if data is not None and any(data["extra_data"].get(k) != v for k, v in facts.items()):
        data["extra_data"].update(facts)
        report.atomic_write(result_path(out_dir, sub), json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@dataclass(frozen=True)
class Term:
    """What the instructor's course adds when a result is written: the one exercise re-checked (the others kept
    from the stored result), the due dates and late penalty (course.toml), the manual overrides."""
    course: policy.Course | None = None
    overrides: tuple = ()
    exercise: str | None = None


NO_TERM = Term()


def grade_one(sub: Submission, out_dir: Path, digest: str, term: Term = NO_TERM,
              **options) -> grading.SubmissionResult:
    """Grade one submission on this machine, through the same plain-data result a Dask worker sends
    (autograder/wire.py), and write its results. Never raises: a failure is this submission's reason."""
    if sub.problem:
        return write(refused(sub), out_dir, sub, digest, term=term)
    try:
        raw = grading.read_bytes(sub.path)
    except grading.SubmissionError as e:
        sub.problem = str(e)
        return write(refused(sub), out_dir, sub, digest, term=term)
    return record(sub, raw, wire.grade_task(raw, sub.path.name, options), out_dir, digest, options.get("seed"),
                  term=term)


def refused(sub: Submission) -> grading.SubmissionResult:
    """The result of a submission that was not graded, for the reason in `sub.problem`."""
    return grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id, lesson=sub.lesson,
                                    error=sub.problem, language=sub.language)


def record(sub: Submission, raw: bytes, payload: object, out_dir: Path, digest: str, seed: int | None = None,
           course_hash: str | None = None, term: Term = NO_TERM) -> grading.SubmissionResult:
    """Check a result (grade_task's JSON text, from this machine or a worker; or the exception its Dask task
    ended with) and write it. One that is not believed is written as "not graded", to be graded again by the
    next run, and never over a result already there."""
    try:
        if isinstance(payload, BaseException):
            raise wire.Rejected(f"its task failed on the Dask cluster ({type(payload).__name__}: "
                                f"{str(payload)[:200]})")
        accepted = wire.accept(payload, raw, sub, seed, course_hash)
    except wire.Rejected as e:
        where = wire.worker_name(payload)
        res = refused(sub)
        res.error = f"not graded: the result{f' from {where}' if where else ''} was rejected: {e}"
        if not result_path(out_dir, sub).exists():
            write(res, out_dir, sub, "", term=term)
        return res
    final = accepted.result.error is None  # a notebook read and identified here that still could not be graded
    return write(accepted.result, out_dir, sub, digest if final else "", accepted.executed, term)  # (an internal
                                                                                                 # error)


def write(res: grading.SubmissionResult, out_dir: Path, sub: Submission, digest: str,
          executed: str | None = None, term: Term = NO_TERM) -> grading.SubmissionResult:
    """The one writer of a submission's results (only `term.exercise` anew, if given and an earlier result of
    the same submission is there to keep); a result that cannot be written says so."""
    facts = submission_facts(sub)
    if term.exercise and not sub.problem:
        res = keep_other_exercises(res, stored_result(out_dir, sub), term.exercise, facts["submission_sha256"])
    try:
        data = res.to_gradescope()
        data["extra_data"].update(facts, grade_ids=[t.grade_id for t in res.tests])
        report.write_submission(res, result_path(out_dir, sub), digest, extra=facts,
                                assessment=policy.assess(data, term.course, list(term.overrides)), executed=executed)
    except Exception as e:  # noqa: BLE001 — the disk is full, a name the file system refuses…
        res.error = res.error or f"the results could not be written ({type(e).__name__}: {str(e)[:200]})"
    return res


def keep_other_exercises(res: grading.SubmissionResult, stored: dict | None, exercise: str,
                         sha: str) -> grading.SubmissionResult:
    """`res` with every exercise but `exercise` taken from the stored result of the same submission bytes; `res`
    as it is (graded in full, and said so) when there is none to keep."""
    with speaking(res.language):
        fresh = next((t for t in res.tests if t.grade_id == exercise), None)
        extra = (stored or {}).get("extra_data") or {}
        usable = (fresh is not None and not res.error and not extra.get("error")
                  and extra.get("lesson") == res.lesson and extra.get("submission_sha256") == sha)
        old = report.from_results(stored) if usable else None
        if old is None or [t.grade_id for t in old.tests] != [t.grade_id for t in res.tests]:
            res.note = "; ".join(filter(None, [res.note, tr(
                f"graded in full: no earlier result of this submission to keep besides {exercise}",
                f"全体を採点しました：{exercise} 以外に残せる、この提出の以前の結果がありません")]))
            return res
        res.tests = [fresh if t.grade_id == exercise else t for t in old.tests]
        res.score = round(sum(t.score for t in res.tests), 4)
        res.note = "; ".join(filter(None, [res.note, tr(
            f"{exercise} checked again; the other exercises are as graded before",
            f"{exercise} をもう一度確かめました。ほかの演習は以前の採点のままです")]))
        return res


def lessons_with(exercise: str) -> set[str]:
    """The lessons that have an exercise with this grade_id."""
    return {src.stem for src in release.sources()
            if any(e.grade_id == exercise for e in release.exercises(release.read_source(src)))}


def grade_batch(paths: list[str | Path], out_dir: str | Path, workers: int = 1, progress: bool = True,
                scheduler: str | None = None, *, course: policy.Course | None = None,
                overrides_file: str | Path | None = None, student: str | None = None, exercise: str | None = None,
                force: bool = False, notices: list[str] | None = None,
                **options) -> tuple[list[grading.SubmissionResult], int]:
    """Grade everything under `paths`; returns (the results, how many were skipped as already graded).
    With `scheduler` (a Dask scheduler's address), the grading runs on its workers (autograder/cluster.py):
    this machine only reads the submissions and writes the results. `notices` receives what the instructor
    should read: override rows not applied, timestamps ignored."""
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    notices = [] if notices is None else notices
    client = None
    if scheduler:
        from autograder import cluster

        client = cluster.connect(scheduler)  # cluster.Unreachable: said before anything is written
    elif not options.get("no_sandbox") and sandbox.unavailable():
        raise SandboxMissing(f"cannot grade safely on this machine: {sandbox.unavailable()}. "
                             "(--no-sandbox grades without it: for trusted submissions only)")
    try:
        only = lessons_with(exercise) if exercise else None
        if exercise and not only:
            raise ValueError(f"no lesson has an exercise {exercise!r} (give its grade_id, e.g. conditional_prob)")
        out_dir.mkdir(parents=True, exist_ok=True)
        overrides, problems = policy.read_overrides(keep_overrides(out_dir, overrides_file, notices))
        notices += problems
        term = Term(course, tuple(overrides), exercise)
        subs = discover(paths, student=student)
        identify(subs)
        todo, skipped = [], 0
        for sub in subs:
            if only is not None and (sub.problem or sub.lesson not in only):
                continue  # --exercise: other lessons' results stay as they are
            digest = content_hash(sub)
            if not force and already_graded(out_dir, sub, digest):
                skipped += 1
                refresh_facts(out_dir, sub, submission_facts(sub))
            else:
                todo.append((sub, digest))
        results = []
        with tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress) as bar:
            def finished(res: grading.SubmissionResult, rebuild: bool = True) -> None:
                results.append(res)
                if rebuild:
                    report.rebuild_gradebook(out_dir, course, overrides)  # a crash loses nothing finished
                bar.update()

            if client is not None:
                cluster.grade(client, todo, out_dir, options, finished, term)
            else:
                _grade_here(todo, out_dir, workers, options, finished, term)
        finish(out_dir, course, overrides, notices)
    finally:
        if client is not None:
            client.close()
    order = {str(s.path): i for i, (s, _) in enumerate(todo)}
    return sorted(results, key=lambda r: order.get(r.submission, 0)), skipped


def _grade_here(todo: list, out_dir: Path, workers: int, options: dict, finished, term: Term = NO_TERM) -> None:
    """`workers` submissions at a time on this machine."""
    options.setdefault("threads", max(1, (os.cpu_count() or 1) // max(1, workers)))  # the cores, shared by workers
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(grade_one, sub, out_dir, digest, term, **options): sub for sub, digest in todo}
        for future in as_completed(futures):
            try:
                res = future.result()
            except Exception as e:  # noqa: BLE001 — never: grade_one does not raise; but if it did, go on
                sub = futures[future]
                res = grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id,
                                               error=f"internal grader error ({type(e).__name__})")
            finished(res)


def finish(out_dir: Path, course: policy.Course | None, overrides: list[policy.Override],
           notices: list[str]) -> None:
    """The gradebook, every feedback page with the policy applied, the similarity report; and the notices on
    overrides that changed nothing and on timestamps that were not believed."""
    report.rebuild_gradebook(out_dir, course, overrides)
    report.refresh_feedback(out_dir, course, overrides)
    stored = [data for _, data in report.read_results(out_dir)]
    notices += policy.unused_overrides(overrides, stored)
    applied = [policy.assess(data, course, overrides) for data in stored]
    late, changed = sum(a.penalty > 0 for a in applied), sum(len(a.changes) for a in applied)
    if late or changed:
        notices.append(f"course policy: {late} late penalt{'y' if late == 1 else 'ies'} and {changed} override(s) "
                       "applied in gradebook.csv and the feedback pages (the scores above are the grader's)")
    notices += [f"{d['extra_data'].get('student_id')}: {d['extra_data'].get('submitted_at_note')}"
                for d in stored if d["extra_data"].get("submitted_at_note")]
    try:
        similarity.write_report(out_dir)
    except Exception as e:  # noqa: BLE001 — the report is a help, never a reason to lose the grades
        notices.append(f"the similarity report could not be written ({type(e).__name__}: {str(e)[:200]})")


def keep_overrides(out_dir: Path, given: str | Path | None, notices: list[str]) -> Path:
    """The overrides file to read: OUT/overrides.csv, which --overrides FILE replaces (the one it replaces is
    kept as overrides.csv.bak), so that the next run, with or without the flag, applies the same."""
    kept = out_dir / "overrides.csv"
    if given is None or Path(given).resolve() == kept.resolve():
        return kept
    try:
        data = policy.read_small(Path(given), policy.MAX_POLICY_BYTES, follow=True)
    except ValueError as e:
        notices.append(f"{given}: cannot be read ({e}); the overrides in {kept} (if any) are applied instead")
        return kept
    try:
        if kept.exists() and kept.read_bytes() != data:
            os.replace(kept, kept.with_name("overrides.csv.bak"))
        if not kept.exists():
            tmp = kept.with_name(".overrides.csv.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, kept)
    except OSError as e:
        notices.append(f"{given} could not be kept as {kept} ({e.strerror}); it is applied this time only")
        return Path(given)
    return kept

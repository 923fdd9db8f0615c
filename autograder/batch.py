"""Grading a whole class: find the submissions, grade them in parallel, never lose a finished grade.

Layouts accepted by `shikumi grade PATH ...` (PATH may be files and folders, mixed):

    submissions/alice.ipynb                      a flat folder: the file name is the learner
    submissions/alice/01_ngram.ipynb             one folder per learner (any file names inside)
    submitted/alice/lesson01/01_ngram.ipynb      nbgrader's layout: submitted/<student>/<assignment>/

Each result is written as soon as it is finished, atomically, to OUT/<student>/<lesson>.json (Gradescope's
results.json shape) with an HTML feedback page beside it; OUT/gradebook.csv is rebuilt from those files after
every submission. A re-run skips submissions whose results already match their content hash, so a batch that
was killed half-way resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder import grade as grading
from autograder import language, report
from autograder.language import say
from shikumi import release

GRADER_VERSION = "3"  # 2: feedback in the language of the edition handed in; 3: points to failed helpers
SKIP_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}


@dataclass
class Submission:
    path: Path
    student_id: str
    lesson: str = ""
    problem: str | None = None  # known before grading: a duplicate, an unreadable file…
    language: str = "en"        # of the edition handed in, once read


def discover(paths: list[str | Path]) -> list[Submission]:
    """Every submission under `paths`, with the learner it belongs to."""
    found: list[Submission] = []
    for path in map(Path, paths):
        if not path.exists():
            found.append(Submission(path, path.stem, problem=f"{path}: no such file or folder"))
        elif path.is_file():
            found.append(Submission(path, path.stem))
        elif (path / "submitted").is_dir():
            found += _nbgrader_layout(path / "submitted")
        elif path.name == "submitted":
            found += _nbgrader_layout(path)
        else:
            for child in sorted(path.iterdir()):
                if child.name in SKIP_NAMES or child.name.startswith("."):
                    continue
                if child.is_file():
                    found.append(Submission(child, child.stem))
                elif child.is_dir():
                    found += [Submission(f, child.name) for f in _files(child)]
    return found


def _nbgrader_layout(submitted: Path) -> list[Submission]:
    return [Submission(f, student.name) for student in sorted(submitted.iterdir()) if student.is_dir()
            for f in _files(student)]


def _files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and not (set(f.parts) & SKIP_NAMES)
                  and not f.name.startswith(".") and f.suffix in (".ipynb", ".json", ".txt", ".py", ""))


def identify(subs: list[Submission]) -> None:
    """Find each submission's lesson now (cheap), and flag two submissions of one lesson by one learner."""
    for sub in subs:
        if sub.problem is None:
            try:
                nb = grading.read_submission(sub.path)
                sub.language = grading.which_language(nb)
                with language.speaking(sub.language):
                    sub.lesson = grading.which_lesson(nb, sub.path)
            except grading.SubmissionError as e:
                sub.problem = str(e)
    groups = defaultdict(list)
    for sub in subs:
        if sub.lesson:
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
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()


def result_path(out_dir: Path, sub: Submission) -> Path:
    """OUT/<student>/<lesson>.json; a submission that cannot be graded is filed under its own file name."""
    name = sub.path.name if sub.problem or not sub.lesson else sub.lesson
    return out_dir / _safe(sub.student_id) / f"{_safe(name)}.json"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name) or "_"


def already_graded(out_dir: Path, sub: Submission, digest: str) -> bool:
    try:
        data = json.loads(result_path(out_dir, sub).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("extra_data", {}).get("content_hash") == digest


def grade_one(sub: Submission, out_dir: Path, digest: str, **options) -> grading.SubmissionResult:
    if sub.problem:
        res = grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id, lesson=sub.lesson,
                                       error=sub.problem, language=sub.language)
    else:
        res = grading.grade_submission(sub.path, result_path(out_dir, sub).with_suffix(".executed.ipynb"),
                                       student_id=sub.student_id, **options)
    report.write_submission(res, result_path(out_dir, sub), digest)
    return res


def grade_batch(paths: list[str | Path], out_dir: str | Path, workers: int = 1, progress: bool = True,
                **options) -> tuple[list[grading.SubmissionResult], int]:
    """Grade everything under `paths`; returns (the results, how many were skipped as already graded)."""
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
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
    hide = [out_dir, *(Path(p) if Path(p).is_dir() else Path(p).parent for p in paths)]
    options.setdefault("hide", hide)  # the other learners' notebooks and everybody's grades
    options.setdefault("threads", max(1, (os.cpu_count() or 1) // max(1, workers)))  # the cores, shared by workers
    results = []
    with tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress) as bar, \
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(grade_one, sub, out_dir, digest, **options) for sub, digest in todo]
        for future in as_completed(futures):
            results.append(future.result())
            report.rebuild_gradebook(out_dir)  # after every submission: a crash loses nothing finished
            bar.update()
    report.rebuild_gradebook(out_dir)
    order = {str(s.path): i for i, (s, _) in enumerate(todo)}
    return sorted(results, key=lambda r: order.get(r.submission, 0)), skipped

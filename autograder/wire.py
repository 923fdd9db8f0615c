"""One submission's grading as plain data: the same on this machine (`shikumi grade`) and on a Dask worker on
another (`shikumi grade --scheduler`, autograder/cluster.py).

    grade_task(raw, name, options) -> str       where it grades: the submission's bytes in, JSON text out
    accept(payload, raw, sub, seed)  -> Accepted  on the client: that text, checked as a stranger's

The worker is given the bytes of the submission and its file name (a lesson can be known by it), never a path
to open; it sends back text, never an object or a path. Only the client reads the class's files and writes the
gradebook, and it believes a result only after checking it: JSON within a size, exactly the fields a result has,
each of its type, the lesson and edition the client found in the same bytes, one test per exercise of that
lesson with the points the client's copy of the lesson gives, scores within them and adding up, the seed the
answers give, and the same course (lessons, checks, grader and library code, by hash) on both machines.

What this cannot catch: a worker that runs the grader faithfully but lies about a score within its range. And
Dask's own messages are pickles, so a machine in the cluster can do more than lie (docs/instructor-guide.md,
"Grading on many machines"): only your own machines join, over TLS. The learner's code never runs outside the
sandbox on any of them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import nbformat

from autograder import grade as grading
from autograder import sandbox
from shikumi.course import release
from shikumi.lang import speaking

FORMAT = "shikumi-result/1"
MAX_PAYLOAD = 16 * 2**20    # characters of JSON text, the executed notebook included
MAX_EXECUTED = 12 * 2**20   # the executed notebook as text (a run's one message is at most grade.MAX_LINE)
MAX_OUTPUT = 64 * 1024      # one exercise's feedback
MAX_MESSAGE = 8000          # an error or a note (an internal error's note keeps 3000 characters of traceback)
MAX_SECONDS = 10**6
RESULT_KEYS = {f.name for f in fields(grading.SubmissionResult)}
TEST_KEYS = {f.name for f in fields(grading.ExerciseResult)}


class Rejected(Exception):
    """A result the client does not believe; the message is the one line the instructor sees."""


@dataclass
class Accepted:
    result: grading.SubmissionResult
    executed: str | None  # the notebook as it ran, nbformat text


def course_digest() -> str:
    """A hash of what decides a grade: the lessons' sources, the autograder (its checks included) and the
    shikumi library. Two machines grade alike only if it is the same on both."""
    import autograder
    import shikumi

    h = hashlib.sha256(FORMAT.encode())
    for label, folder, pattern in (("solutions", release.course_root() / "solutions", "*"),
                                   ("autograder", Path(autograder.__file__).parent, "*.py"),
                                   ("shikumi", Path(shikumi.__file__).parent, "*.py")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("."):
                h.update(f"{label}/{path.relative_to(folder).as_posix()}\0".encode())
                h.update(path.read_bytes())
                h.update(b"\0")
    return h.hexdigest()


# -- where it grades ----------------------------------------------------------------------------------------


def grade_task(raw: bytes, name: str, options: dict, where: str = "") -> str:
    """Grade one submission's bytes; the result as JSON text. Never raises. A machine that cannot build the
    sandbox says so instead of grading (the client then grades that submission again next time)."""
    if not options.get("no_sandbox") and sandbox.unavailable():
        return problem(f"cannot grade safely on this machine: {sandbox.unavailable()}", where)
    res, executed = grading.grade_bytes(raw, name, **options)
    payload = {"format": FORMAT, "course": course_digest(), "worker": where, "problem": None,
               "result": asdict(res), "executed": executed}
    text = json.dumps(payload, ensure_ascii=False)
    if len(text) > MAX_PAYLOAD:  # the notebook as it ran is for the instructor's curiosity: the grade goes first
        payload["executed"] = None
        text = json.dumps(payload, ensure_ascii=False)
    return text


def problem(why: str, where: str = "") -> str:
    """The answer of a machine that did not grade: why, in one line (the client grades it again next time)."""
    empty = grading.SubmissionResult(submission="", student_id="")
    return json.dumps({"format": FORMAT, "course": "", "worker": where, "problem": why[:MAX_MESSAGE],
                       "result": asdict(empty), "executed": None}, ensure_ascii=False)


# -- on the client ------------------------------------------------------------------------------------------


def accept(payload: object, raw: bytes, sub, seed: int | None = None, course: str | None = None) -> Accepted:
    """The result in `payload` if it is one this client believes for the submission `sub` (batch.Submission,
    whose bytes are `raw`); else Rejected, with the reason in one line."""
    if type(payload) is not str:
        raise Rejected(f"the result is a {type(payload).__name__}, not JSON text")
    if len(payload) > MAX_PAYLOAD:
        raise Rejected(f"the result is {len(payload) / 2**20:.0f} MB of text; at most {MAX_PAYLOAD // 2**20} MB")
    try:
        data = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise Rejected(f"the result is not valid JSON ({type(e).__name__})") from None
    _keys(data, {"format", "course", "worker", "problem", "result", "executed"}, "the result")
    if data["format"] != FORMAT:
        raise Rejected(f"the result is in format {_show(data['format'])}, not {FORMAT}")
    if data["problem"] is not None:
        raise Rejected(f"the worker did not grade it: {_text(data['problem'], 'its problem', MAX_MESSAGE)}")
    if data["course"] != (course or course_digest()):
        raise Rejected("the worker has another version of the course (its lessons, checks, grader or library "
                       "differ from this machine's): install the same commit on every machine")
    answers = _answers(raw, sub)   # read here, from the bytes this machine sent: not taken from the worker
    res = _result(data["result"], sub, seed if seed is not None or not sub.lesson else grading.submission_seed(answers))
    if res.error is None:
        res.answers = answers   # for the similarity report
    executed = data["executed"]
    if executed is not None:
        _text(executed, "the executed notebook", MAX_EXECUTED)
        try:
            nbformat.reads(executed, as_version=4)
        except Exception:  # noqa: BLE001 — whatever it is, it is not a notebook we would hand the instructor
            raise Rejected("the executed notebook sent back is not a notebook") from None
    return Accepted(res, executed)


def worker_name(payload: object) -> str:
    """Who the result says it comes from, fit for a message (it is only what the worker says)."""
    try:
        where = json.loads(payload[:MAX_PAYLOAD])["worker"] if type(payload) is str else ""
    except Exception:  # noqa: BLE001
        return ""
    return "".join(c for c in where if c.isprintable())[:100] if type(where) is str else ""


def _result(data: object, sub, seed: int | None) -> grading.SubmissionResult:
    _keys(data, RESULT_KEYS, "the result")
    lesson = _text(data["lesson"], "lesson", 100)
    lang = _text(data["language"], "language", 10)
    error = None if data["error"] is None else _text(data["error"], "error", MAX_MESSAGE)
    note = _text(data["note"], "note", MAX_MESSAGE)
    score, max_score = _number(data["score"], "score"), _number(data["max_score"], "max_score")
    seconds = _number(data["seconds"], "seconds")
    if lang != sub.language:
        raise Rejected(f"the result is in language {_show(lang)}, but the notebook is the {sub.language!r} edition")
    if not 0 <= seconds <= MAX_SECONDS:
        raise Rejected(f"the result took {_show(seconds)} s")
    if type(data["tests"]) is not list:
        raise Rejected("the result's tests are not a list")
    exercises = _exercises(sub.lesson)
    points = sum(e.points for e in exercises)
    if error is not None:  # not graded (not a lesson after all, an internal error): nothing to add up
        if lesson not in ("", sub.lesson) or data["tests"] or score != 0 or max_score not in (0, points):
            raise Rejected("the result says it could not grade the notebook, and still has a lesson, tests or "
                           "a score of its own")
        if data["seed"] is not None and data["seed"] != seed:
            raise Rejected(f"the result was graded with seed {_show(data['seed'])}, not {seed}")
        tests = []
    else:
        if lesson != sub.lesson:
            raise Rejected(f"the result is for lesson {_show(lesson)}, but the notebook is lesson {sub.lesson}")
        if len(data["tests"]) != len(exercises):
            raise Rejected(f"the result has {len(data['tests'])} tests; lesson {sub.lesson} has {len(exercises)} "
                           "exercises")
        tests = [_test(t, e) for t, e in zip(data["tests"], exercises)]
        if max_score != points:
            raise Rejected(f"the result's max_score is {_show(max_score)}; lesson {sub.lesson} has {points:g} points")
        if score != round(sum(t.score for t in tests), 4):
            raise Rejected(f"the result's score {_show(score)} is not the sum of its tests' scores")
        if type(data["seed"]) is not int or data["seed"] != seed:
            raise Rejected(f"the result was graded with seed {_show(data['seed'])}, not the seed of this "
                           f"notebook's answers ({seed})")
    return grading.SubmissionResult(submission=str(sub.path), student_id=sub.student_id, lesson=lesson,
                                    score=score, max_score=max_score, tests=tests, seed=data["seed"],
                                    seconds=seconds, error=error, note=note, language=lang)


def _test(data: object, exercise) -> grading.ExerciseResult:
    _keys(data, TEST_KEYS, "a test")
    if data["number"] != exercise.number or data["grade_id"] != exercise.grade_id:
        raise Rejected(f"the result's test {_show(data['number'])} {_show(data['grade_id'])} is not exercise "
                       f"{exercise.number} {exercise.grade_id}")
    score, max_score = _number(data["score"], "a test's score"), _number(data["max_score"], "a test's max_score")
    if max_score != exercise.points or not 0 <= score <= max_score:
        raise Rejected(f"exercise {exercise.number}: {_show(score)} / {_show(max_score)} points; it is worth "
                       f"{exercise.points:g}")
    status = "passed" if score >= max_score else "failed"
    if data["status"] != status:
        raise Rejected(f"exercise {exercise.number}: status {_show(data['status'])} for {score:g} / {max_score:g}")
    return grading.ExerciseResult(exercise.number, exercise.grade_id, score, max_score,
                                  _text(data["output"], "a test's output", MAX_OUTPUT), status)


def _answers(raw: bytes, sub) -> dict[str, str]:
    """The learner's answer cells, as this client reads them from the bytes it sent (their seed is the one the
    checks' inputs are drawn from, unless --seed says otherwise)."""
    if not sub.lesson:
        return {}
    try:
        with speaking(sub.language):
            answers, _ = grading.answers_of(grading.parse_submission(raw), _exercises(sub.lesson))
    except grading.SubmissionError:
        raise Rejected("the notebook is no longer readable: did it change while it was graded?") from None
    return answers


def _exercises(lesson: str) -> list:
    if not lesson:
        return []
    source = {p.stem: p for p in release.sources()}[lesson]
    return release.exercises(release.read_source(source))


def _keys(data: object, keys: set[str], what: str) -> None:
    if type(data) is not dict:
        raise Rejected(f"{what} is not a JSON object")
    if set(data) != keys:
        odd = sorted(set(data) ^ keys)[:5]
        raise Rejected(f"{what} does not have the fields a result has (differs in {', '.join(map(_show, odd))})")


def _text(value: object, what: str, limit: int) -> str:
    if type(value) is not str:
        raise Rejected(f"{what} is not text")
    if len(value) > limit:
        raise Rejected(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def _number(value: object, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Rejected(f"{what} is not a number ({_show(value)})")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a result may hold")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"

"""The instructor's grading policy: due dates, late penalties, extensions (course.toml), when each submission
was handed in (nbgrader's timestamp.txt, else the file's modification time) and manual overrides
(overrides.csv).

The results files (OUT/<student>/<lesson>.json) are what the grader computed, and stay so. The policy is applied
on top of them every time the gradebook and the feedback pages are written, so editing course.toml or
overrides.csv and running `shikumi grade` again (nothing is re-graded) changes the grades at once.

The order is nbgrader's: an override replaces an exercise's points (as a manual grade does), the exercises add up
to `raw_score`, and the late penalty is taken from that: `score = raw_score - late_submission_penalty`, never
below 0.

    # course.toml
    late_penalty = { per_day = 0.1, max = 0.5 }   # of the max score, per day or part of a day late
    # late_penalty = "zero"                       # nbgrader's rule: a late submission scores 0
    [due]                                         # a lesson id, or an nbgrader assignment name
    01_ngram = 2026-12-03T23:59:00+09:00
    [extensions.alice]                            # alice's own due date
    01_ngram = 2026-12-10T23:59:00+09:00
    [students.alice]                              # optional: the gradebook's name and email columns
    first_name = "Alice"
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

UTC = timezone.utc
MAX_TIMESTAMP_BYTES = 256          # nbgrader writes about 30
MAX_POLICY_BYTES = 2 * 2**20       # course.toml, overrides.csv
FUTURE_SLACK = timedelta(days=1)   # a submission time later than now + this is not believed
OVERRIDE_COLUMNS = ("student", "lesson", "exercise", "points", "reason")


class CourseError(ValueError):
    """course.toml cannot be used; the message is one sentence naming the file, line and key."""


# ------------------------------------------------------------------------------------------------
# Reading small files the instructor or nbgrader left (never through a symlink, never much)
# ------------------------------------------------------------------------------------------------

def read_small(path: Path, limit: int, follow: bool = False) -> bytes:
    """The bytes of a small regular file; OSError or ValueError (in words) for anything else."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not follow and path.is_symlink():
            raise ValueError("it is a symbolic link") from None
        raise ValueError(e.strerror or "cannot be read") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


# ------------------------------------------------------------------------------------------------
# When a submission was handed in
# ------------------------------------------------------------------------------------------------

_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)\s*([A-Za-z0-9_+\-:/]{1,40})?")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def parse_timestamp(text: str) -> datetime:
    """A time as nbgrader writes it (`2026-12-01 10:00:00.000000 UTC`, or with an offset `+0900` or a zone
    name `Asia/Tokyo`), or ISO 8601 (`2026-12-01T10:00:00+09:00`). Without a zone it is UTC, as in nbgrader.
    Returns an aware datetime; ValueError otherwise."""
    match = _STAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a date and time")
    when = datetime.fromisoformat(match.group(1).replace(" ", "T"))
    zone = match.group(2)
    if zone is None or zone.upper() in ("UTC", "GMT", "Z"):
        return when.replace(tzinfo=UTC)
    offset = _OFFSET.fullmatch(zone)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        if delta >= timedelta(hours=24):
            raise ValueError(f"the offset {zone} is not a time zone")
        return when.replace(tzinfo=timezone(sign * delta))
    try:
        from zoneinfo import ZoneInfo

        return when.replace(tzinfo=ZoneInfo(zone))
    except Exception:  # noqa: BLE001 — unknown zone, a path-like key, no tz database
        raise ValueError(f"unknown time zone {zone!r}") from None


@dataclass
class SubmittedAt:
    when: datetime | None   # aware, or None if nothing could be read
    source: str             # "timestamp.txt", "mtime" or ""
    note: str = ""          # why timestamp.txt was not used, if there was one


def submitted_at(notebook: Path, timestamp_file: Path | None = None, now: datetime | None = None) -> SubmittedAt:
    """nbgrader's timestamp.txt if there is one and it is believable, else the notebook's modification time.
    timestamp.txt comes from the learner's side of the exchange: it is read bounded, never through a link, and
    ignored (with a note saying why) when it is not one short date and time."""
    note = ""
    if timestamp_file is not None and (timestamp_file.exists() or timestamp_file.is_symlink()):
        try:
            text = read_small(timestamp_file, MAX_TIMESTAMP_BYTES).decode("utf-8")
            when = parse_timestamp(text)
            if when > (now or datetime.now(UTC)) + FUTURE_SLACK:
                raise ValueError(f"{when.isoformat()} is in the future")
            return SubmittedAt(when.astimezone(UTC), "timestamp.txt")
        except UnicodeDecodeError:
            note = "timestamp.txt ignored (not text)"
        except ValueError as e:
            note = f"timestamp.txt ignored ({e})"
        note += "; the notebook's modification time was used"
    try:
        mtime = os.lstat(notebook).st_mtime
        return SubmittedAt(datetime.fromtimestamp(mtime, UTC), "mtime", note)
    except (OSError, ValueError, OverflowError):
        return SubmittedAt(None, "", note)


def nbgrader_time(when: datetime | None) -> str:
    """A time as nbgrader's CSV export writes it: UTC, no zone, `2026-12-01 10:00:00` (microseconds if any)."""
    return "" if when is None else str(when.astimezone(UTC).replace(tzinfo=None))


# ------------------------------------------------------------------------------------------------
# course.toml
# ------------------------------------------------------------------------------------------------

@dataclass
class LatePenalty:
    kind: str = "none"       # "none", "zero" (nbgrader's), or "per_day"
    per_day: float = 0.0     # fraction of the max score per day or part of a day late
    max: float = 1.0         # at most this fraction of the max score
    grace: timedelta = timedelta(0)


@dataclass
class Course:
    path: Path | None = None
    due: dict[str, datetime] = field(default_factory=dict)                    # lesson or assignment → due
    late_penalty: LatePenalty = field(default_factory=LatePenalty)
    extensions: dict[str, dict[str, datetime]] = field(default_factory=dict)  # student → {name: due}
    students: dict[str, dict[str, str]] = field(default_factory=dict)         # student → first_name, …

    def due_for(self, student: str, names: list[str]) -> tuple[datetime | None, datetime | None]:
        """(the due date, this student's extended one or None) for the first of `names` that has one."""
        due = next((self.due[n] for n in names if n in self.due), None)
        mine = self.extensions.get(student, {})
        return due, next((mine[n] for n in names if n in mine), None)


TOP_KEYS = {"due", "late_penalty", "extensions", "students"}
STUDENT_KEYS = {"first_name", "last_name", "email"}


def load_course(path: str | Path | None) -> Course:
    """The policy in `path` (an empty one for None). CourseError, one sentence, for anything wrong with it."""
    if path is None:
        return Course()
    path = Path(path)
    try:
        raw = read_small(path, MAX_POLICY_BYTES, follow=True)
    except ValueError as e:
        raise CourseError(f"{path}: cannot be read ({e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CourseError(f"{path}: not a text file (UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        where = f", line {line.group(1)}" if line else ""
        key = _key_on_line(text, int(line.group(1))) if line else ""
        what = re.sub(r"\s*\(at .*\)$", "", str(e)) or "not valid TOML"
        raise CourseError(f"{path}{where}{f' (key {key})' if key else ''}: not valid TOML: {what}") from None
    return _course(path, text, data)


def _key_on_line(text: str, lineno: int) -> str:
    lines = text.splitlines()
    if not 0 < lineno <= len(lines):
        return ""
    match = re.match(r"\s*(\[+[^\]]*\]+|[\w\".-]+)\s*=?", lines[lineno - 1])
    return match.group(1)[:60] if match else ""


def _fail(path: Path, text: str, keys: tuple[str, ...], why: str) -> CourseError:
    """`course.toml, line 7, key late_penalty.per_day: …`: the line is the first that names the last key."""
    lineno = None
    name = re.escape(keys[-1])
    pattern = re.compile(rf'(^|[\s{{,.\[])("{name}"|\'{name}\'|{name})\s*(=|\]|\.)')
    for i, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line.split("#", 1)[0]):
            lineno = i
            break
    where = f", line {lineno}" if lineno else ""
    return CourseError(f"{path}{where}, key {'.'.join(keys)}: {why}")


def _course(path: Path, text: str, data: dict) -> Course:
    course = Course(path=path)
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(path, text, (key,), f"unknown setting (known: {', '.join(sorted(TOP_KEYS))})")
    for name, value in _table(path, text, data, ("due",)).items():
        course.due[name] = _when(path, text, ("due", name), value)
    for student, table in _table(path, text, data, ("extensions",)).items():
        dates = _table(path, text, data["extensions"], ("extensions", student), table)
        course.extensions[student] = {n: _when(path, text, ("extensions", student, n), v) for n, v in dates.items()}
    for student, table in _table(path, text, data, ("students",)).items():
        info = _table(path, text, data["students"], ("students", student), table)
        for key, value in info.items():
            if key not in STUDENT_KEYS:
                raise _fail(path, text, ("students", student, key), f"unknown (known: {', '.join(sorted(STUDENT_KEYS))})")
            if not isinstance(value, str):
                raise _fail(path, text, ("students", student, key), f"must be text in quotes, not {value!r}")
        course.students[student] = dict(info)
    course.late_penalty = _late_penalty(path, text, data.get("late_penalty", "none"))
    return course


def _table(path: Path, text: str, data: dict, keys: tuple[str, ...], value=None) -> dict:
    value = data.get(keys[-1], {}) if value is None else value
    if not isinstance(value, dict):
        raise _fail(path, text, keys, f"must be a table (`[{'.'.join(keys)}]` with `name = …` lines), not {value!r}")
    return value


def _when(path: Path, text: str, keys: tuple[str, ...], value) -> datetime:
    example = "write it as 2026-12-03T23:59:00+09:00"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(path, text, keys, f"{value!r} is not a date and time ({example})") from None
    if not isinstance(value, datetime):
        raise _fail(path, text, keys, f"{value!r} is not a date and time ({example})")
    if value.tzinfo is None:
        raise _fail(path, text, keys, f"{value.isoformat()} has no time zone ({example})")
    return value


def _late_penalty(path: Path, text: str, value) -> LatePenalty:
    keys = ("late_penalty",)
    if isinstance(value, str):
        if value in ("none", "zero"):
            return LatePenalty(kind=value)
        raise _fail(path, text, keys, f'{value!r} is not a rule: "none", "zero" or {{ per_day = 0.1, max = 0.5 }}')
    if not isinstance(value, dict):
        raise _fail(path, text, keys, f'must be "none", "zero" or {{ per_day = 0.1, max = 0.5 }}, not {value!r}')
    for key in value:
        if key not in ("per_day", "max", "grace_minutes"):
            raise _fail(path, text, (*keys, key), "unknown (known: per_day, max, grace_minutes)")

    def number(key, default, low, high):
        x = value.get(key, default)
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not (low <= x <= high):
            raise _fail(path, text, (*keys, key), f"must be a number from {low:g} to {high:g}, not {x!r}")
        return float(x)

    if "per_day" not in value:
        raise _fail(path, text, keys, "needs per_day, the fraction of the max score taken per day late (e.g. 0.1)")
    return LatePenalty(kind="per_day", per_day=number("per_day", 0, 0, 1), max=number("max", 1, 0, 1),
                       grace=timedelta(minutes=number("grace_minutes", 0, 0, 7 * 24 * 60)))


def find_course(given: str | None, cwd: Path | None = None) -> Path | None:
    """--course FILE, else ./course.toml if there is one."""
    if given:
        return Path(given)
    default = (cwd or Path.cwd()) / "course.toml"
    return default if default.is_file() else None


# ------------------------------------------------------------------------------------------------
# overrides.csv
# ------------------------------------------------------------------------------------------------

@dataclass
class Override:
    row: int
    student: str
    lesson: str      # a lesson id or an nbgrader assignment name
    exercise: str    # a grade_id ("smoothed_prob") or a number ("1.3")
    points: float
    reason: str


def _unescape(cell: str) -> str:
    """A cell copied from our gradebook, where `=x` is written `'=x`, means `=x`."""
    cell = cell.strip()
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def read_overrides(path: Path | None) -> tuple[list[Override], list[str]]:
    """The overrides in `path`, and one problem per row that cannot be used (never an exception)."""
    if path is None or not (path.exists() or path.is_symlink()):
        return [], []
    try:
        text = read_small(path, MAX_POLICY_BYTES, follow=True).decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        return [], [f"{path}: not a text file (UTF-8); no override applied"]
    except ValueError as e:
        return [], [f"{path}: cannot be read ({e}); no override applied"]
    found, problems = [], []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as e:
        return [], [f"{path}, row 1: not CSV ({e}); no override applied"]
    if tuple(header[:5]) != OVERRIDE_COLUMNS:
        return [], [f"{path}, row 1: the first row must name the columns {', '.join(OVERRIDE_COLUMNS)}; "
                    "no override applied"]
    row_number = 1
    while True:
        row_number += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(f"{path}, row {row_number}: not CSV ({str(e)[:100]}); the rows after it are not read")
            break
        if not any(c.strip() for c in row):
            continue
        where = f"{path}, row {row_number}"
        if len(row) < 5:
            problems.append(f"{where}: {len(row)} cells, expected 5 ({', '.join(OVERRIDE_COLUMNS)}); not applied")
            continue
        student, lesson, exercise, points, reason = (_unescape(c) for c in row[:5])
        try:
            value = float(points)
            if not math.isfinite(value) or value < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{where}: points {points[:40]!r} is not a number of points (0 or more); not applied")
            continue
        if not (student and lesson and exercise):
            problems.append(f"{where}: student, lesson and exercise must all be given; not applied")
            continue
        if not reason:
            problems.append(f"{where}: no reason given (the learner reads it on their feedback page); not applied")
            continue
        found.append(Override(row_number, student[:200], lesson[:200], exercise[:200], value, reason[:1000]))
    return found, problems


# ------------------------------------------------------------------------------------------------
# The grade, with the policy applied
# ------------------------------------------------------------------------------------------------

@dataclass
class Change:
    number: str
    grade_id: str
    graded: float      # what the grader gave
    points: float      # what the instructor gave
    max_score: float
    reason: str


@dataclass
class Assessment:
    student_id: str
    assignment: str                 # the nbgrader assignment name, else the lesson
    lesson: str
    graded_score: float             # the grader's score, before overrides
    raw_score: float                # with overrides (nbgrader's raw_score)
    penalty: float                  # nbgrader's late_submission_penalty
    score: float                    # raw_score - penalty
    max_score: float
    submitted: datetime | None = None
    source: str = ""                # "timestamp.txt", "mtime" or ""
    due: datetime | None = None
    extended: datetime | None = None
    seconds_late: float = 0.0
    changes: list[Change] = field(default_factory=list)
    used: list[int] = field(default_factory=list)  # the override rows applied


def _exercises(data: dict) -> list[tuple[str, str, float, float]]:
    """(number, grade_id, score, max_score) of each exercise in a results file."""
    extra = data.get("extra_data") or {}
    ids = extra.get("grade_ids") if isinstance(extra.get("grade_ids"), list) else []
    out = []
    for i, test in enumerate(data.get("tests") or []):
        if not isinstance(test, dict):
            continue
        gid = ids[i] if i < len(ids) and isinstance(ids[i], str) else str(test.get("name", "")).rsplit(" ", 1)[-1]
        out.append((str(test.get("number", "")), gid, _num(test.get("score")), _num(test.get("max_score"))))
    return out


def _num(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else 0.0


def assess(data: dict, course: Course | None = None, overrides: list[Override] = ()) -> Assessment:
    """A results file's grade with the overrides and the late penalty applied."""
    course = course or Course()
    extra = data.get("extra_data") if isinstance(data.get("extra_data"), dict) else {}
    student, lesson = str(extra.get("student_id") or ""), str(extra.get("lesson") or "")
    assignment = str(extra.get("assignment") or "") or lesson
    graded = _num(data.get("score"))
    a = Assessment(student, assignment, lesson, graded, graded, 0.0, graded, _num(data.get("max_score")))
    if extra.get("error") or not lesson:
        return a  # not graded: nothing to change
    names = [assignment, lesson] if assignment != lesson else [lesson]
    mine = [o for o in overrides if o.student == student and o.lesson in names]
    total = 0.0
    for number, gid, score, max_score in _exercises(data):
        match = [o for o in mine if o.exercise in (gid, number) and o.points <= max_score]
        if match:
            o = match[-1]  # the last row for an exercise wins
            a.changes.append(Change(number, gid, score, o.points, max_score, o.reason))
            a.used.append(o.row)
            score = o.points
        total += score
    a.raw_score = round(total, 4)
    try:
        a.submitted = datetime.fromisoformat(extra["submitted_at"]) if extra.get("submitted_at") else None
    except (TypeError, ValueError):
        a.submitted = None
    a.source = str(extra.get("submitted_at_source") or "") if a.submitted else ""
    a.due, a.extended = course.due_for(student, names)
    deadline = a.extended or a.due
    if deadline is not None and a.submitted is not None:
        late = (a.submitted - deadline - course.late_penalty.grace).total_seconds()
        a.seconds_late = max(0.0, late)
    a.penalty = round(late_penalty(course.late_penalty, a.seconds_late, a.raw_score, a.max_score), 4)
    a.score = round(max(0.0, a.raw_score - a.penalty), 4)
    return a


def late_penalty(rule: LatePenalty, seconds_late: float, raw_score: float, max_score: float) -> float:
    """The points taken: "zero" takes everything (nbgrader's rule); per_day takes `per_day` of the max score for
    each day or part of a day late, at most `max` of it; never more than the learner has."""
    if seconds_late <= 0 or rule.kind == "none":
        return 0.0
    if rule.kind == "zero":
        return raw_score
    days = math.ceil(seconds_late / 86400)
    return min(raw_score, min(rule.max, rule.per_day * days) * max_score)


def unused_overrides(overrides: list[Override], results: list[dict]) -> list[str]:
    """One problem per override row that changed nothing, saying why."""
    problems = []
    used = set()
    by_key: dict[tuple[str, str], list[dict]] = {}
    for data in results:
        extra = data.get("extra_data") if isinstance(data.get("extra_data"), dict) else {}
        for name in {str(extra.get("lesson") or ""), str(extra.get("assignment") or "")} - {""}:
            by_key.setdefault((str(extra.get("student_id") or ""), name), []).append(data)
    for data in results:
        used.update(assess(data, None, overrides).used)
    for o in overrides:
        if o.row in used:
            continue
        where = f"overrides row {o.row} ({o.student}, {o.lesson}, {o.exercise})"
        matches = by_key.get((o.student, o.lesson), [])
        if not matches:
            problems.append(f"{where}: no graded submission of {o.lesson!r} by {o.student!r}; not applied")
        elif all((d.get("extra_data") or {}).get("error") for d in matches):
            problems.append(f"{where}: that submission could not be graded, so it has no exercises to change; "
                            "not applied")
        else:
            exercises = _exercises(matches[0])
            known = [e for e in exercises if o.exercise in (e[0], e[1])]
            if not known:
                names = ", ".join(e[1] for e in exercises)
                problems.append(f"{where}: no exercise {o.exercise!r} in that lesson (its exercises: {names}); "
                                "not applied")
            elif o.points > known[0][3]:
                problems.append(f"{where}: {o.points:g} points is more than the exercise's {known[0][3]:g}; "
                                "not applied")
            else:
                problems.append(f"{where}: replaced by a later row for the same exercise")
    return problems

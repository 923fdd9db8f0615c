"""What the grader writes: a results.json and an HTML feedback page per submission, one gradebook.csv,
and a summary for the terminal.

The results.json and the feedback page are the learner's: in the language of the edition they handed in. The
gradebook and the terminal lines are the instructor's, in English, with each submission's own message (the
error or the note, in that submission's language) as it is.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import tempfile
from pathlib import Path

from autograder import policy
from autograder.grade import ExerciseResult, SubmissionResult
from shikumi.lang import LANGUAGES, speaking, tr

# nbgrader's `nbgrader export` columns first, with its names and meaning (nbgrader/plugins/export.py), then ours.
NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
SHIKUMI_COLUMNS = ["lesson", "status", "message", "graded_score", "overrides", "extended_duedate", "days_late",
                   "timestamp_source", "submission", "seconds", "seed", "results"]
GRADEBOOK_COLUMNS = NBGRADER_COLUMNS + SHIKUMI_COLUMNS


def atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


MAX_ANSWER = 100_000  # characters of one answer cell kept in its results file


def write_submission(res: SubmissionResult, path: Path, content_hash: str = "", extra: dict | None = None,
                     assessment: policy.Assessment | None = None, executed: str | None = None) -> Path:
    """PATH.json (Gradescope's results.json shape), PATH.html (the learner's feedback page) and, given the notebook
    as it ran (nbformat text), PATH.executed.ipynb. `extra` goes into extra_data (when and how the submission was
    handed in); `assessment` is the policy's view of it. An empty `content_hash` marks a result to grade again."""
    data = res.to_gradescope()
    data["extra_data"].update(extra or {})
    data["extra_data"]["content_hash"] = content_hash
    data["extra_data"]["grade_ids"] = [t.grade_id for t in res.tests]
    if res.answers and not res.error:  # the learner's answer cells, for the similarity report
        data["extra_data"]["answers"] = {gid: src[:MAX_ANSWER] for gid, src in res.answers.items()}
    if executed is not None:  # for the instructor: what the run printed
        atomic_write(path.with_suffix(".executed.ipynb"), executed)
    atomic_write(path.with_suffix(".html"), feedback_html(res, assessment or policy.assess(data)))
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")  # last: it marks "done"
    return path


def read_results(out_dir: Path) -> list[tuple[Path, dict]]:
    """Every readable results file under out_dir, in order."""
    found = []
    for path in sorted(out_dir.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(data, dict) and isinstance(data.get("extra_data"), dict):
            found.append((path, data))
    return found


def rebuild_gradebook(out_dir: Path, course: policy.Course | None = None,
                      overrides: list[policy.Override] = ()) -> Path:
    """gradebook.csv from every results file under out_dir (the results files are the truth), with the course
    policy and the overrides applied."""
    rows = []
    for path, data in read_results(out_dir):
        extra = data["extra_data"]
        a = policy.assess(data, course, overrides)
        info = (course.students.get(a.student_id, {}) if course else {})
        rows.append({
            "assignment": a.assignment, "duedate": policy.nbgrader_time(a.due),
            "timestamp": policy.nbgrader_time(a.submitted), "student_id": a.student_id,
            "last_name": info.get("last_name", ""), "first_name": info.get("first_name", ""),
            "email": info.get("email", ""), "raw_score": f"{a.raw_score:g}",
            "late_submission_penalty": f"{a.penalty:g}", "score": f"{a.score:g}", "max_score": f"{a.max_score:g}",
            "lesson": a.lesson, "status": "error" if extra.get("error") else "graded",
            "message": " ".join("; ".join(filter(None, [str(extra.get("error") or extra.get("note") or ""),
                                                         str(extra.get("submitted_at_note") or "")])).split()),
            "graded_score": f"{a.graded_score:g}",
            "overrides": "; ".join(f"{c.grade_id} {c.graded:g}→{c.points:g} ({c.reason})" for c in a.changes),
            "extended_duedate": policy.nbgrader_time(a.extended),
            "days_late": f"{a.seconds_late / 86400:.2f}" if a.seconds_late else "",
            "timestamp_source": a.source, "submission": extra.get("submission", ""),
            "seconds": f"{_num(data.get('execution_time')):.1f}",
            "seed": "" if extra.get("seed") is None else str(extra.get("seed")),
            "results": str(path.relative_to(out_dir)),
        })
    rows.sort(key=lambda r: (str(r["assignment"]), str(r["student_id"]), str(r["lesson"])))
    rows = [{k: spreadsheet_safe(str(v)) for k, v in row.items()} for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=GRADEBOOK_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = out_dir / "gradebook.csv"
    atomic_write(path, buffer.getvalue())
    return path


def _num(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def from_results(data: dict) -> SubmissionResult:
    """A results file read back (to write its feedback page again)."""
    extra = data["extra_data"]
    ids = extra.get("grade_ids") if isinstance(extra.get("grade_ids"), list) else []
    tests = []
    for i, t in enumerate(x for x in data.get("tests") or [] if isinstance(x, dict)):
        tests.append(ExerciseResult(str(t.get("number", "")), str(ids[i]) if i < len(ids) else "",
                                    _num(t.get("score")), _num(t.get("max_score")), str(t.get("output", "")),
                                    str(t.get("status", ""))))
    lang = extra.get("language") if extra.get("language") in LANGUAGES else "en"
    return SubmissionResult(submission=str(extra.get("submission", "")), student_id=str(extra.get("student_id", "")),
                            lesson=str(extra.get("lesson") or ""), score=_num(data.get("score")),
                            max_score=_num(data.get("max_score")), tests=tests, seed=extra.get("seed"),
                            seconds=_num(data.get("execution_time")), error=extra.get("error"),
                            note=str(extra.get("note") or ""), language=lang)


def refresh_feedback(out_dir: Path, course: policy.Course | None = None,
                     overrides: list[policy.Override] = ()) -> int:
    """Write each feedback page again with the policy applied, where it changed; returns how many changed."""
    changed = 0
    for path, data in read_results(out_dir):
        try:
            text = feedback_html(from_results(data), policy.assess(data, course, overrides))
        except Exception:  # noqa: BLE001 — a results file edited by hand: its page stays as it was
            continue
        page = path.with_suffix(".html")
        try:
            if page.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        atomic_write(page, text)
        changed += 1
    return changed


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @, a tab or a carriage return
    gets a leading apostrophe (OWASP's advice against CSV injection). File names and messages come from
    learners."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,.;:、。") + "…"


def summary(res: SubmissionResult) -> str:
    """A few readable lines for the terminal."""
    if res.error and not res.tests:
        return f"✗ {res.student_id} ({res.submission}): could not grade — {res.error}"
    lines = [f"{res.student_id}  {res.lesson}  {res.score:g} / {res.max_score:g}   [{res.seconds:.1f} s]"]
    for t in res.tests:
        mark = "✓" if t.status == "passed" else ("·" if t.score == 0 else "~")
        first_line = t.output.splitlines()[0] if t.output else ""
        lines.append(f"  {mark} {t.number} {t.grade_id:<18} {t.score:>5g}/{t.max_score:g}  {shorten(first_line, 150)}")
    if res.note:
        lines.append(f"  note: {res.note}")
    return "\n".join(lines)


def table(results: list[SubmissionResult]) -> str:
    """One line per submission, for the end of a batch."""
    lines = [f"{'student':<20} {'lesson':<16} {'score':>11}  status"]
    for r in sorted(results, key=lambda r: (r.lesson, r.student_id)):
        status = f"error: {r.error}" if r.error else ("graded" + (f" ({r.note})" if r.note else ""))
        lines.append(f"{r.student_id[:20]:<20} {r.lesson[:16] or '-':<16} {r.score:>5g} / {r.max_score:<3g}  {shorten(status, 90)}")
    return "\n".join(lines)


_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, "Hiragino Sans", "Noto Sans JP", sans-serif; max-width: 56rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .5rem;
       vertical-align: top; text-align: left; }}
.passed {{ color: #1a7f37; }} .failed {{ color: #b42318; }} pre {{ white-space: pre-wrap; margin: 0; }}
.total {{ font-size: 1.4rem; }}
</style></head><body>
<h1>{title}</h1>
<p class="total">{score}</p>
{note}
<table><tr><th>{exercise}</th><th>{points}</th><th>{feedback}</th></tr>
{rows}
</table>
<p><small>{footer}</small></p>
</body></html>
"""


def feedback_html(res: SubmissionResult, assessment: policy.Assessment | None = None) -> str:
    """The learner's feedback page, in the language of the edition they handed in; with the instructor's
    overrides (and their reasons) and the late penalty, if any."""
    esc = html.escape
    a = assessment
    changes = {c.grade_id: c for c in a.changes} if a else {}
    with speaking(res.language):
        exercise = tr("Exercise", "演習")

        def points(t) -> str:
            c = changes.get(t.grade_id)
            if c is None:
                return f"{t.score:g} / {t.max_score:g}"
            return (f"{c.points:g} / {t.max_score:g}<br><small>"
                    + esc(tr(f"changed by your instructor from {c.graded:g}: {c.reason}",
                              f"講師が {c.graded:g} 点から変更しました：{c.reason}")) + "</small>")

        rows = "\n".join(
            f'<tr class="{esc(t.status)}"><td>{exercise} {esc(t.number)}<br><code>{esc(t.grade_id)}</code></td>'
            f"<td>{points(t)}</td><td><pre>{esc(t.output)}</pre></td></tr>" for t in res.tests)
        if res.error:
            note = f"<p><strong>{tr('Could not grade:', '採点できませんでした：')}</strong> {esc(res.error)}</p>"
        else:
            note = f"<p><em>{esc(res.note)}</em></p>" if res.note else ""
        score = f"{res.score:g} / {res.max_score:g}"
        if a is not None and not res.error:
            note += late_html(a)
            if a.penalty:
                score = f"{a.score:g} / {a.max_score:g}" + tr(f" ({a.raw_score:g} − {a.penalty:g} late penalty)",
                                                               f"（{a.raw_score:g} − 遅延の減点 {a.penalty:g}）")
            elif a.changes:
                score = f"{a.score:g} / {a.max_score:g}"
        seed = esc(str(res.seed))
        footer = tr(f"Graded by the Shikumi autograder (seed {seed}). Your answers were run on inputs chosen for this\n"
                     "submission; the messages show the first check that did not pass.",
                     f"Shikumi の自動採点で採点しました（シード {seed}）。あなたの答えは、この提出のために選んだ入力で"
                     "実行しました。\nメッセージは、合格しなかった最初のチェックについてのものです。")
        return _PAGE.format(lang=res.language, title=esc(f"{res.student_id} — {tr('lesson', 'レッスン')} {res.lesson or '?'}"),
                            score=esc(score), note=note, rows=rows, footer=footer,
                            exercise=tr("exercise", "演習"), points=tr("points", "点数"),
                            feedback=tr("feedback", "フィードバック"))


def late_html(a: policy.Assessment) -> str:
    """When it was handed in and what that cost, in the due date's own time zone."""
    deadline = a.extended or a.due
    if deadline is None or a.submitted is None:
        return ""
    zone = deadline.tzinfo

    def show(when):
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")

    due = show(deadline) + (tr(" (your extension)", "（あなたの延長期限）") if a.extended else "")
    if a.seconds_late <= 0:
        text = tr(f"Handed in {show(a.submitted)}, on time (due {due}).",
                   f"提出 {show(a.submitted)}。期限（{due}）に間に合いました。")
    else:
        hours = a.seconds_late / 3600
        late = tr(f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours",
                   f"{hours / 24:.1f} 日" if hours >= 24 else f"{hours:.1f} 時間")
        text = tr(f"Handed in {show(a.submitted)}, {late} after the due date {due}: "
                   f"late penalty {a.penalty:g} points.",
                   f"提出 {show(a.submitted)}。期限 {due} より {late} 遅れたため、{a.penalty:g} 点の減点です。")
    return f"<p>{html.escape(text)}</p>"

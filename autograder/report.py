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

from autograder import language
from autograder.grade import SubmissionResult
from autograder.language import say

GRADEBOOK_COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "message", "submission",
                     "seconds", "seed", "results"]


def atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def write_submission(res: SubmissionResult, path: Path, content_hash: str = "", executed: str | None = None) -> Path:
    """PATH.json (Gradescope's results.json shape), PATH.html (the learner's feedback page) and, given the notebook
    as it ran (nbformat text), PATH.executed.ipynb. An empty `content_hash` marks a result to grade again."""
    data = res.to_gradescope()
    data["extra_data"]["content_hash"] = content_hash
    if executed is not None:  # for the instructor: what the run printed
        atomic_write(path.with_suffix(".executed.ipynb"), executed)
    atomic_write(path.with_suffix(".html"), feedback_html(res))
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")  # last: it marks "done"
    return path


def rebuild_gradebook(out_dir: Path) -> Path:
    """gradebook.csv from every results file under out_dir (the results files are the truth)."""
    rows = []
    for path in sorted(out_dir.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            extra = data["extra_data"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        rows.append({
            "student_id": extra.get("student_id", ""), "assignment": extra.get("lesson", ""),
            "score": f"{data.get('score', 0):g}", "max_score": f"{data.get('max_score', 0):g}",
            "status": "error" if extra.get("error") else "graded",
            "message": extra.get("error") or extra.get("note") or "",
            "submission": extra.get("submission", ""), "seconds": f"{data.get('execution_time', 0):.1f}",
            "seed": "" if extra.get("seed") is None else str(extra.get("seed")),
            "results": str(path.relative_to(out_dir)),
        })
    rows.sort(key=lambda r: (str(r["assignment"]), str(r["student_id"])))
    rows = [{k: spreadsheet_safe(str(v)) for k, v in row.items()} for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=GRADEBOOK_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = out_dir / "gradebook.csv"
    atomic_write(path, buffer.getvalue())
    return path


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


def feedback_html(res: SubmissionResult) -> str:
    """The learner's feedback page, in the language of the edition they handed in."""
    esc = html.escape
    with language.speaking(res.language):
        exercise = say("Exercise", "演習")
        rows = "\n".join(
            f'<tr class="{t.status}"><td>{exercise} {esc(t.number)}<br><code>{esc(t.grade_id)}</code></td>'
            f"<td>{t.score:g} / {t.max_score:g}</td><td><pre>{esc(t.output)}</pre></td></tr>" for t in res.tests)
        if res.error:
            note = f"<p><strong>{say('Could not grade:', '採点できませんでした：')}</strong> {esc(res.error)}</p>"
        else:
            note = f"<p><em>{esc(res.note)}</em></p>" if res.note else ""
        seed = esc(str(res.seed))
        footer = say(f"Graded by the Shikumi autograder (seed {seed}). Your answers were run on inputs chosen for this\n"
                     "submission; the messages show the first check that did not pass.",
                     f"Shikumi の自動採点で採点しました（シード {seed}）。あなたの答えは、この提出のために選んだ入力で"
                     "実行しました。\nメッセージは、合格しなかった最初のチェックについてのものです。")
        return _PAGE.format(lang=res.language, title=esc(f"{res.student_id} — {say('lesson', 'レッスン')} {res.lesson or '?'}"),
                            score=esc(f"{res.score:g} / {res.max_score:g}"), note=note, rows=rows, footer=footer,
                            exercise=say("exercise", "演習"), points=say("points", "点数"),
                            feedback=say("feedback", "フィードバック"))

"""What the grader writes: results.json per submission, one gradebook.csv, and a summary for the terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from autograder.grade import SubmissionResult

GRADEBOOK_COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "message", "submission",
                     "seconds", "seed"]


def atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def write_results(res: SubmissionResult, out_dir: Path) -> Path:
    path = out_dir / f"{Path(res.submission).stem}.json"
    atomic_write(path, json.dumps(res.to_gradescope(), ensure_ascii=False, indent=2) + "\n")
    return path


def gradebook_row(res: SubmissionResult) -> dict:
    return {
        "student_id": res.student_id,
        "assignment": res.lesson,
        "score": f"{res.score:g}",
        "max_score": f"{res.max_score:g}",
        "status": "error" if res.error else "graded",
        "message": res.error or res.note,
        "submission": res.submission,
        "seconds": f"{res.seconds:.1f}",
        "seed": "" if res.seed is None else str(res.seed),
    }


def update_gradebook(results: list[SubmissionResult], out_dir: Path) -> Path:
    """Add or replace these submissions' rows; rows of other submissions already there are kept."""
    path = out_dir / "gradebook.csv"
    rows: dict[str, dict] = {}
    if path.exists():
        with path.open(encoding="utf-8", newline="") as f:
            rows = {r["submission"]: r for r in csv.DictReader(f)}
    for res in results:
        rows[res.submission] = gradebook_row(res)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=GRADEBOOK_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows.values(), key=lambda r: (r.get("assignment", ""), r.get("student_id", ""))):
        writer.writerow(row)
    atomic_write(path, buffer.getvalue())
    return path


def summary(res: SubmissionResult) -> str:
    """A few readable lines for the terminal."""
    if res.error and not res.tests:
        return f"✗ {res.submission}: could not grade — {res.error}"
    lines = [f"{res.submission}  ({res.lesson})  {res.score:g} / {res.max_score:g}   [{res.seconds:.1f} s]"]
    for t in res.tests:
        mark = "✓" if t.status == "passed" else ("·" if t.score == 0 else "~")
        first_line = t.output.splitlines()[0] if t.output else ""
        lines.append(f"  {mark} {t.number} {t.grade_id:<18} {t.score:>5g}/{t.max_score:g}  {first_line[:150]}")
    if res.note:
        lines.append(f"  note: {res.note}")
    return "\n".join(lines)

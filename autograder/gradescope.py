"""Grading on Gradescope: `run_autograder` runs `python -m autograder.gradescope` for each submission.

It grades the one notebook in $GRADESCOPE_ROOT/submission (default /autograder) with the grader of
`shikumi grade` and writes $GRADESCOPE_ROOT/results/results.json in Gradescope's format: `score`,
`execution_time`, `output`, `stdout_visibility`, `extra_data`, and `tests`, one per exercise, with `name`,
`number`, `score`, `max_score`, `status`, `output` and `visibility` (set when the bundle was built).

Whatever happens, results.json is written: no notebook, two notebooks, another lesson's notebook, a file that
is not a notebook, even a bug of the grader's, each give a score of 0 and one sentence saying why. What it
prints (stdout) is for the instructor, and hidden from learners.

The sandbox. Where bubblewrap can start, each run is sandboxed as with `shikumi grade`. Inside Gradescope's
Docker container it often cannot (no user namespaces); the notebook then runs without it, because the
container, a fresh one for each submission, is itself the isolation between learners — and the result says
so. Within that container the learner's code runs beside the grader: it could read this lesson's solution
and hidden checks. See docs/instructor-guide.md, "Grading on Gradescope".
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

from autograder import grade as grading
from autograder import sandbox
from autograder.report import atomic_write
from shikumi.course import release
from shikumi.lang import speaking, tr

SKIPPED = {".ipynb_checkpoints", "__MACOSX"}


def paths() -> tuple[Path, Path, Path]:
    """(the submission folder, results.json, the bundle's settings), under $GRADESCOPE_ROOT."""
    root = Path(os.environ.get("GRADESCOPE_ROOT", "/autograder"))
    return root / "submission", root / "results" / "results.json", release.course_root() / "shikumi-gradescope.json"


def log(text: str) -> None:
    """A line for the instructor (Gradescope's stdout); a closed stdout never costs the learner's result."""
    try:
        print(text, flush=True)
    except (OSError, ValueError):
        pass


def notebooks(folder: Path) -> list[Path]:
    """Every .ipynb under the submission folder (a zip that Gradescope unpacked may hold folders); symbolic
    links are listed (the grader refuses them), never followed."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        found += [Path(top) / n for n in sorted(names) if n.endswith(".ipynb") and not n.startswith(".")]
    return sorted(found)


def refusal(sentence: str, max_score: float, stdout: str = "") -> dict:
    """A results.json with 0 and one sentence."""
    log(stdout or sentence)
    return {"score": 0.0, "output": sentence, "stdout_visibility": "hidden", "tests": [],
            "extra_data": {"max_score": max_score, "graded": False}}


def results_of(res: grading.SubmissionResult, visibility: str, sandbox_note: str) -> dict:
    """Gradescope's results.json from the grader's result: the documented keys only."""
    data = res.to_gradescope()
    with speaking(res.language):
        output = data["output"] + (tr(f"\n\nSandbox: {sandbox_note}", f"\n\nサンドボックス：{sandbox_note}")
                                   if sandbox_note else "")
    tests = [{"name": t["name"], "number": t["number"], "score": t["score"], "max_score": t["max_score"],
              "status": t["status"], "output": t["output"], "visibility": visibility} for t in data["tests"]]
    extra = {**data["extra_data"], "max_score": data["max_score"]}
    return {"score": data["score"], "execution_time": int(round(data["execution_time"])), "output": output,
            "stdout_visibility": "hidden", "tests": tests, "extra_data": extra}


def without_sandbox_note(why: str, unprivileged: bool) -> str:
    """In the language being spoken: graded without bubblewrap, why, and what isolates the run instead."""
    if unprivileged:
        return tr("graded without bubblewrap, which cannot start in this container "
                   f"({why}); your code ran as an unprivileged user that cannot read the grader's files, in the "
                   "container Gradescope starts for each submission.",
                   "bubblewrap がこのコンテナでは動かないため、サンドボックスなしで採点しました"
                   f"（{why}）。あなたのコードは、採点プログラムのファイルを読めない一般ユーザーとして、"
                   "Gradescope が提出ごとに用意するコンテナの中で実行しました。")
    return tr("graded without bubblewrap, which cannot start in this container "
               f"({why}); your code ran as root in the container Gradescope starts for each submission, which is "
               "then its only isolation.",
               "bubblewrap がこのコンテナでは動かないため、サンドボックスなしで採点しました"
               f"（{why}）。あなたのコードは、Gradescope が提出ごとに用意するコンテナの中で root として実行しました。"
               "提出どうしを隔てているのはそのコンテナだけです。")


def lock_down(root: Path) -> None:
    """Without bubblewrap, as root: the grader's files (this lesson's solution and hidden checks, the submission,
    the results) become root's alone; the library stays readable for the unprivileged run, which may pass
    through the folders above it but not list them."""
    if os.geteuid() != 0:
        return
    source = release.course_root()
    for path, mode in ((source / "solutions", 0o700), (source / "autograder", 0o700), (root / "submission", 0o700),
                       (root / "results", 0o700), (root / "submission_metadata.json", 0o600)):
        try:
            path.chmod(mode)
        except OSError:
            pass
    for folder in (root, source):
        try:
            folder.chmod(folder.stat().st_mode | 0o111)
        except OSError:
            pass


def grade(submission: Path, config: dict) -> dict:
    lesson, visibility, max_score = config["lesson"], config.get("visibility", "visible"), config.get("max_score", 0)
    found = notebooks(submission) if submission.is_dir() else []
    with speaking(config.get("lang", "en")):
        if not found:
            others = sorted(p.name for p in submission.rglob("*") if p.is_file())[:5] if submission.is_dir() else []
            seen = tr(f" (found: {', '.join(others)})", f"（見つかったファイル：{'、'.join(others)}）") if others else ""
            return refusal(tr(f"No notebook was handed in{seen}: upload your {lesson}.ipynb and submit again.",
                               f"ノートブックが提出されていません{seen}。{lesson}.ipynb をアップロードして、"
                               "もう一度提出してください。"), max_score)
        if len(found) > 1:
            names = ", ".join(str(p.relative_to(submission)) for p in found[:5])
            return refusal(tr(f"{len(found)} notebooks were handed in ({names}): submit only your "
                               f"{lesson}.ipynb, one notebook.",
                               f"ノートブックが {len(found)} 個提出されています（{names}）。{lesson}.ipynb を"
                               "1 つだけ提出してください。"), max_score)
    path = found[0]
    try:
        nb = grading.read_submission(path)
    except grading.SubmissionError as e:
        return refusal(str(e), max_score)
    lang = grading.which_language(nb)
    meta = nb.metadata.get("shikumi") if isinstance(nb.metadata.get("shikumi"), dict) else {}
    other = meta.get("lesson")
    with speaking(lang):
        if isinstance(other, str) and other != lesson and re.fullmatch(r"\d\d_\w+", other):
            return refusal(tr(f"This notebook is lesson {other[:40]}, but this assignment is lesson {lesson}: "
                               f"submit your {lesson}.ipynb.",
                               f"このノートブックはレッスン {other[:40]} ですが、この課題はレッスン {lesson} です。"
                               f"{lesson}.ipynb を提出してください。"), max_score)
        why = (sandbox.unavailable() or "").split(": " + sandbox.HOW_TO_GET_IT)[0]
        note, run_as = "", "root"
        if why:
            lock_down(submission.parent)
            unprivileged = sandbox.can_leave_root()
            note = without_sandbox_note(why, unprivileged)
            run_as = "an unprivileged uid" if unprivileged else "root"
    log(f"sandbox: none — {why}; the notebook runs as {run_as} in this submission's own container" if why
        else f"sandbox: {sandbox.describe()}")
    res = grading.grade_submission(path, student_id="submission", no_sandbox=bool(why),
                                   threads=max(1, os.cpu_count() or 1), timeout=int(config.get("timeout", 540)))
    if why:  # the grader's own words are for `--no-sandbox` on a laptop; here the container is the reason
        for sep, words in (("; ", grading.NO_SANDBOX_NOTE), ("。", grading.NO_SANDBOX_NOTE_JA)):
            res.note = "" if res.note == words else res.note.removesuffix(sep + words)
    if res.error:
        log(f"could not grade {path.name}: {res.error}")
        data = refusal(res.error, max_score)
        data["extra_data"].update(language=res.language, seconds=round(res.seconds, 1))
        return data
    data = results_of(res, visibility, note)
    data["extra_data"]["sandbox"] = f"none ({why}); ran as {run_as}" if why else "bubblewrap"
    log(f"{path.name}: lesson {res.lesson}, {res.score:g} / {res.max_score:g} in {res.seconds:.0f} s")
    for t in res.tests:
        log(f"  {t.number} {t.grade_id}: {t.score:g}/{t.max_score:g}  {t.output.splitlines()[0] if t.output else ''}")
    return data


def main() -> int:
    submission, results, settings = paths()
    started = time.perf_counter()
    try:
        config = json.loads(settings.read_text(encoding="utf-8"))
        data = grade(submission, config)
    except Exception as e:  # never a crash without a results.json: the learner sees one sentence
        log(traceback.format_exc())
        data = refusal(f"The autograder failed ({type(e).__name__}), not your notebook: please tell your "
                       "instructor, who can see the details.", 0, stdout="internal error")
    data.setdefault("execution_time", int(time.perf_counter() - started))
    atomic_write(results, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    log(f"wrote {results}: score {data['score']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

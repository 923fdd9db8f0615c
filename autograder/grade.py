"""Grade one submission: take the learner's answers, run them in the trusted lesson, check what they return.

`grade_submission(path)` never raises for a bad submission: whatever goes wrong (not a notebook, the
wrong lesson, a cell that loops forever, a kernel that dies) ends up as a message in the result, and the
exercises that did run are still scored. The messages are in the language of the edition the learner handed
in (`which_language`; autograder/language.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder import checks as checks_registry
from autograder import language, sandbox
from autograder.harness import GRADER_TAG, probe_source
from autograder.language import say
from autograder.plain import decode, encode
from shikumi import release

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
GRADING_PARAMETERS = {"DEVICE": "cpu", "SIZE": "quick", "SEED": 0}


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

    def to_gradescope(self) -> dict:
        """Gradescope's results.json shape."""
        with language.speaking(self.language):
            score = f"{self.score:g} / {self.max_score:g}"
            output = self.error or (say(f"Lesson {self.lesson}: {score}", f"レッスン {self.lesson}：{score}")
                                    + (say(f" ({self.note})", f"（{self.note}）") if self.note else ""))
            names = [say(f"Exercise {t.number}: {t.grade_id}", f"演習 {t.number}：{t.grade_id}") for t in self.tests]
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
    if not path.exists():
        raise SubmissionError(f"{path}: no such file")
    if path.is_dir():
        raise SubmissionError(f"{path}: is a folder, not a notebook")
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError("the file is empty")
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the file is {size / 2**20:.0f} MB; a notebook is at most "
                              f"{MAX_NOTEBOOK_BYTES // 2**20} MB (clear its outputs and submit again)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SubmissionError("not a notebook: the file is not text (UTF-8)") from None
    except json.JSONDecodeError as e:
        raise SubmissionError(f"not a notebook: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise SubmissionError("not a notebook: valid JSON, but with no 'cells'")
    if data.get("nbformat") != 4:
        raise SubmissionError(f"notebook format {data.get('nbformat')} is not supported; save it from "
                              "JupyterLab (format 4)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)  # joins multi-line sources, upgrades 4.x minors
    except Exception as e:  # malformed cells
        raise SubmissionError(f"not a readable notebook: {type(e).__name__}") from None
    if not all(isinstance(c, dict) and isinstance(c.get("source", ""), str) for c in nb.cells):
        raise SubmissionError("not a readable notebook: a cell has no text source")
    return nb


def which_lesson(nb, path: Path) -> str:
    """The lesson a submission belongs to: its metadata, else its file name, else its exercises."""
    known = {p.stem: p for p in release.sources()}
    meta = nb.metadata.get("shikumi", {}).get("lesson") if isinstance(nb.metadata.get("shikumi"), dict) else None
    if meta in known:
        return meta
    for name in known:
        if path.stem.startswith(name) or name in path.stem:
            return name
    ids = {release.grade_id(c) for c in nb.cells if release.is_answer_cell(c)}
    for name, src in known.items():
        if ids & {e.grade_id for e in release.exercises(release.read_source(src))}:
            return name
    lessons = ", ".join(sorted(known)) or "none"
    raise SubmissionError(say("cannot tell which lesson this is: no lesson metadata, no lesson name in the file "
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
    if lang in language.LANGUAGES:
        return lang
    prose = "".join(c.source for c in nb.cells if c.get("cell_type") == "markdown")
    kana, latin = len(HIRAGANA.findall(prose)), len(LATIN.findall(prose))
    return "ja" if kana > 0.4 * (kana + latin) else "en"


def answers_of(nb, exercises) -> tuple[dict[str, str], dict[str, str]]:
    """{grade_id: source} of the learner's answer cells, and notes on how some were found."""
    answers, notes = {}, {}
    for cell in nb.cells:
        gid = release.grade_id(cell) if cell.get("cell_type") == "code" else None
        if gid and gid not in answers and any(e.grade_id == gid for e in exercises):
            answers[gid] = cell.source
    for e in exercises:  # cells whose nbgrader metadata got lost: look for the function by name
        if e.grade_id not in answers:
            for cell in nb.cells:
                if cell.get("cell_type") == "code" and f"def {e.grade_id}(" in cell.source:
                    answers[e.grade_id] = cell.source
                    notes[e.grade_id] = say("(found by its `def` line: the cell had lost its exercise metadata) ",
                                            "（演習のメタデータが消えていたので、`def` の行で答えのセルを見つけました）")
                    break
    return answers, notes


# ------------------------------------------------------------------------------------------------
# The notebook that is executed
# ------------------------------------------------------------------------------------------------

def grading_notebook(trusted, answers: dict[str, str], io_dir: str):
    """The trusted lesson with the learner's answer cells in place, a probe after each, checks removed."""
    nb = nbformat.v4.new_notebook(metadata=trusted.metadata)
    for cell in trusted.cells:
        if release.is_check_cell(cell):
            continue  # the visible self-checks are for the learner; the hidden checks grade
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        if cell.cell_type == "code":
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"raises-exception"})
        if release.is_answer_cell(cell) and release.grade_id(cell) in answers:
            cell.source = answers[release.grade_id(cell)]
        nb.cells.append(cell)
        if release.is_answer_cell(cell):
            nb.cells.append(nbformat.v4.new_code_cell(probe_source(release.grade_id(cell), io_dir),
                                                      metadata={"tags": ["raises-exception", GRADER_TAG]}))
    return nb


def hidden_paths(extra: list[Path] = ()) -> list[Path]:
    """What the learner's code must not see: the hidden checks, the solutions, and whatever the caller adds
    (the other submissions, the grades folder)."""
    return [Path(checks_registry.__file__).resolve().parent, release.course_root() / "solutions",
            *(Path(p).resolve() for p in extra)]


WATCH_SECONDS = 0.5  # how often the grader looks at a running notebook: its time, its processes
KERNEL_DIED, TOO_MANY_PROCESSES = "the kernel died", "too many processes"


def lost_text(lost: str) -> str:
    """KERNEL_DIED or TOO_MANY_PROCESSES, in words."""
    return {KERNEL_DIED: say(KERNEL_DIED, "カーネルが止まりました"),
            TOO_MANY_PROCESSES: say(TOO_MANY_PROCESSES, "プロセスが多すぎました")}[lost]


def execute(nb, work: Path, cell_timeout: int, timeout: int, parameters: dict, hide: list[Path] = (),
            memory_mb: int = 6144, max_processes: int = sandbox.MAX_PROCESSES,
            threads: int = 1) -> tuple[object, str, str]:
    """Run the notebook in the sandbox, its PyTorch on `threads` CPU threads. Returns the executed notebook (or
    None), a note if it stopped early, and, when the learner's code ended the whole run, how: KERNEL_DIED or
    TOO_MANY_PROCESSES (else "")."""
    src, out = work / "grading.ipynb", work / "executed.ipynb"
    nbformat.write(nb, str(src))
    run_dir = work / "run"
    run_dir.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "autograder.execute", str(src), str(out), "--cwd", str(run_dir),
           "--cell-timeout", str(cell_timeout), "--parameters", json.dumps(parameters),
           "--memory-mb", str(memory_mb), "--cpu-seconds", str(timeout + 60)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIKUMI_", "PYTEST", "JPY_SESSION"))}
    env.update(HOME=str(run_dir), MPLBACKEND="Agg", MPLCONFIGDIR=str(run_dir / ".config"),
               IPYTHONDIR=str(run_dir / ".ipython"), JUPYTER_RUNTIME_DIR=str(run_dir / ".runtime"),
               JUPYTER_PLATFORM_DIRS="1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep instead of spinning
    env.setdefault("OMP_NUM_THREADS", str(threads))  # parallel workers share the cores (shikumi grade --workers)
    limit = sandbox.ProcessLimit(max_processes)
    proc = subprocess.Popen(limit.command(sandbox.wrap(cmd, work, hidden_paths(hide))), cwd=run_dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    note, lost, deadline = "", "", time.monotonic() + timeout
    try:
        while True:
            try:
                _, stderr = proc.communicate(timeout=WATCH_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if limit.exceeded(proc.pid):
                    lost = TOO_MANY_PROCESSES
                    note = say(f"your code started too many processes (limit {max_processes}); the run was stopped",
                               f"コードが起動したプロセスが多すぎたため（上限 {max_processes}）、実行を止めました")
                elif time.monotonic() > deadline:
                    note = say(f"the whole notebook took longer than {timeout} s and was stopped",
                               f"ノートブック全体の実行が {timeout} 秒を超えたため、止めました")
                else:
                    continue
                limit.kill_all(proc.pid)
                _, stderr = proc.communicate()
                break
    finally:
        limit.close()
    if not note and proc.returncode:
        lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("execution stopped")]
        lost = KERNEL_DIED if lines and "DeadKernel" in lines[-1] else ""
        if lines:  # papermill's own words: "execution stopped: DeadKernelError: …"
            note = say(lines[-1], f"ノートブックの実行が途中で止まりました（{lines[-1]}）")
        else:
            note = say(f"the notebook run failed (exit {proc.returncode})",
                       f"ノートブックの実行に失敗しました（終了コード {proc.returncode}）")
    try:
        executed = nbformat.read(str(out), as_version=4)
    except Exception:  # never written, or cut off by the stop
        executed = None
    return executed, note, lost


def cell_errors(executed) -> dict[str, str]:
    """{grade_id: "SyntaxError: …"} for answer cells whose own execution raised."""
    errors = {}
    if executed is None:
        return errors
    for cell in executed.cells:
        if release.is_answer_cell(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    errors[release.grade_id(cell)] = f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"
    return errors


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------

def score_exercise(exercise, check, cases, record, answer, stubs, note, cell_error, cell_timeout) -> ExerciseResult:
    def result(score: float, output: str) -> ExerciseResult:
        return ExerciseResult(exercise.number, exercise.grade_id, round(score, 4), exercise.points,
                              (note + output).strip())

    if answer is None:
        return result(0, say(f"Not attempted: the answer cell for {exercise.grade_id} is missing from your notebook "
                             "(was it deleted?).",
                             f"未解答：ノートブックに {exercise.grade_id} の答えのセルがありません（削除しませんでしたか？）。"))
    if _normalise(answer) in stubs:
        return result(0, say("Not attempted: the cell still raises NotImplementedError.",
                             "未解答：セルはまだ NotImplementedError を送出します。"))
    if record is None or not record.get("ran"):
        why = say(f" Your cell raised {cell_error}.", f"あなたのセルで {cell_error} が発生しました。") if cell_error else ""
        return result(0, say(f"Not graded: the notebook stopped before this exercise could be checked.{why}",
                             f"採点できませんでした：この演習を確かめる前に、ノートブックの実行が止まりました。{why}"))
    outcomes = record.get("cases", [])
    used = sorted({ref for o in outcomes if o for ref in o.get("used_reference", [])})
    if used:
        names = ", ".join(f"`{ref.replace(':', '.')}`" for ref in used)
        return result(0, say(f"Flagged: your answer uses the library's own solution ({names}). The exercise is "
                             "to write it yourself — the library is there to read and compare with afterwards.",
                             f"0 点：答えがライブラリ自身の解答（{names}）を使っています。この演習は自分で書くものです。"
                             "ライブラリは、書いたあとで読んで比べるためにあります。"))
    passed, main_passed, first_problem = 0, 0, None
    for case, outcome in zip(cases, outcomes + [None] * (len(cases) - len(outcomes))):
        call = checks_registry.call_text(check.name, case)
        if outcome is None:
            problem = say("not run (the notebook stopped before this case)",
                          "実行されませんでした（このケースの前にノートブックの実行が止まりました）。")
        elif outcome.get("started"):
            problem = say(f"{call} did not finish within {cell_timeout} s: is there a loop that never ends?",
                          f"{call} が {cell_timeout} 秒以内に終わりませんでした。終わらないループはありませんか？")
        elif "error" in outcome:
            if outcome["error"] == "NotImplementedError":
                return result(0, say("Not attempted: your function still raises NotImplementedError.",
                                     "未解答：関数はまだ NotImplementedError を送出します。"))
            error = f"{outcome['error']}: {outcome['message']}"
            problem = say(f"{call} raised {error}", f"{call} で {error} が発生しました。")
            if outcome["error"] == "NameError" and cell_error:
                problem = say(f"{check.name} is not defined, because your cell raised {cell_error}",
                              f"あなたのセルで {cell_error} が発生したため、{check.name} が定義されていません。")
        else:
            try:
                problem = check.verify(case, decode(outcome["value"]))
            except Exception as e:  # a return value of a shape the check did not foresee
                problem = say(f"{call} returned something unexpected ({type(e).__name__}).",
                              f"{call} が予想外のものを返しました（{type(e).__name__}）。")
        if problem is None:
            passed += 1
            main_passed += not case.edge
        elif first_problem is None:
            first_problem = problem
    total = len(cases)
    if main_passed == 0 and passed:  # only edge cases right: e.g. `return 0.0`
        return result(0, say(f"0 of {total} checks passed on real inputs ({passed} edge case(s) alone earn nothing). ",
                             f"{total} 個のチェックのうち、実際の入力で合格したものは 0 個です"
                             f"（端のケース {passed} 個だけでは点になりません）。") + first_problem)
    if passed == total:
        return result(exercise.points, say(f"All {total} checks passed.", f"{total} 個のチェックすべてに合格しました。"))
    return result(exercise.points * passed / total,
                  say(f"{passed} of {total} checks passed. ", f"{total} 個のチェックのうち {passed} 個に合格しました。")
                  + first_problem)


def point_to_failed_helpers(tests: list[ExerciseResult], exercises, checks, answers: dict[str, str]) -> None:
    """An answer that calls the function of another exercise that did not pass (sentence_logprob calling the
    learner's own conditional_prob) may be right and still fail: say so, so the learner fixes that one first."""
    failed = {t.grade_id for t in tests if t.status == "failed"}
    for t in tests:
        if t.status != "failed" or t.grade_id not in answers:
            continue
        used = _names_used(answers[t.grade_id])
        helpers = [say(f"{checks[e.grade_id].name} (exercise {e.number})", f"{checks[e.grade_id].name}（演習 {e.number}）")
                   for e in exercises
                   if e.grade_id != t.grade_id and e.grade_id in failed and checks[e.grade_id].name in used]
        if helpers:
            names = say(", ", "、").join(helpers)
            t.output += say(f" This answer calls your {names}, which did not pass: fix that first, and this one "
                            f"may pass too.",
                            f"この答えは、合格しなかった {names}を呼んでいます。先にそちらを直すと、こちらも合格するかもしれません。")


def _names_used(source: str) -> set[str]:
    """The names an answer's code refers to (read, never run); none when it does not parse."""
    try:
        return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    except SyntaxError:
        return set()


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def stopped_by(lost: str, limit: int) -> str:
    """What the learner whose answer ended the whole run (KERNEL_DIED or TOO_MANY_PROCESSES) is told."""
    why = {KERNEL_DIED: say("Your answer stopped the Python kernel (os._exit, a crash, running out of memory…)",
                            "あなたの答えが Python のカーネルを止めました（os._exit、クラッシュ、メモリ不足など）"),
           TOO_MANY_PROCESSES: say(f"Your code started too many processes (at most {limit} may run at once)",
                                   f"あなたのコードが起動したプロセスが多すぎました（同時に動かせるのは {limit} 個まで）")}[lost]
    return why + say(", so the exercises after it were graded in a second run without it.",
                     "。そのため、この演習のあとの演習は、この答えを除いてもう一度実行して採点しました。")


def _culprit(exercises, reached: dict, answers: dict[str, str], stubs: set[str]) -> str | None:
    """The exercise whose answer ended a run: the last one the run reached, if its check never finished,
    else the next one with an answer (its own cell ended the run)."""
    order = [e.grade_id for e in exercises]
    last = max((order.index(g) for g in reached), default=-1)
    if last >= 0 and any(case.get("started") for case in reached[order[last]].get("cases", [])):
        return order[last]
    return next((g for g in order[last + 1:] if g in answers and _normalise(answers[g]) not in stubs), None)


def submission_seed(answers: dict[str, str]) -> int:
    """Check inputs depend on the answers themselves: the same submission always meets the same inputs,
    and nobody can know them before writing the code that gets them."""
    digest = hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()
    return int(digest[:12], 16)


def grade_submission(path: str | Path, executed_to: str | Path | None = None, **options) -> SubmissionResult:
    """Grade one submission. Never raises: a problem of the grader itself becomes an error line too."""
    res = SubmissionResult(submission=str(path), student_id=options.pop("student_id", None) or Path(path).stem)
    try:
        return _grade(res, Path(path), executed_to, **options)
    except Exception as e:  # a bug in the grader must not take the rest of a class down with it
        import traceback

        failed = SubmissionResult(submission=res.submission, student_id=res.student_id, language=res.language)
        with language.speaking(failed.language):
            failed.error = say(f"internal grader error ({type(e).__name__}: {e}); please report it",
                               f"採点プログラムの内部エラーです（{type(e).__name__}: {e}）。講師に知らせてください")
        failed.note = traceback.format_exc()[-3000:]  # kept in the results file, for the bug report
        return failed


def _grade(res: SubmissionResult, path: Path, executed_to: str | Path | None = None, **options) -> SubmissionResult:
    """Read the submission, then grade it in its own language."""
    started = time.perf_counter()
    try:
        nb = read_submission(path)  # until it is read, its language is unknown: English
    except SubmissionError as e:
        res.error, res.seconds = str(e), time.perf_counter() - started
        return res
    res.language = which_language(nb)
    with language.speaking(res.language):
        return _grade_notebook(res, nb, path, executed_to, started, **options)


def _grade_notebook(res: SubmissionResult, nb, path: Path, executed_to: str | Path | None, started: float, *,
                    cell_timeout: int = 120, timeout: int = 900, seed: int | None = None, hide: list[Path] = (),
                    memory_mb: int = 6144, max_processes: int = sandbox.MAX_PROCESSES,
                    threads: int = 1) -> SubmissionResult:
    try:
        res.lesson = which_lesson(nb, path)
        source = release.read_source(release.course_root() / "solutions" / f"{res.lesson}.ipynb")
        exercises = release.exercises(source)
        trusted = release.build_lesson(source, "en")
        all_checks = checks_registry.for_lesson(res.lesson)
    except SubmissionError as e:
        res.error, res.seconds = str(e), time.perf_counter() - started
        return res
    res.max_score = sum(e.points for e in exercises)

    answers, notes = answers_of(nb, exercises)
    res.seed = submission_seed(answers) if seed is None else seed
    rng = random.Random(res.seed)
    cases = {e.grade_id: all_checks[e.grade_id].cases(rng) for e in exercises}

    work = sandbox.work_dir()
    try:
        io_dir = work / "io"
        (io_dir / "inputs").mkdir(parents=True)
        (io_dir / "outputs").mkdir()
        for e in exercises:
            check = all_checks[e.grade_id]
            spec = {"name": check.name, "kind": check.kind, "references": list(check.references),
                    "cases": [{"args": encode(tuple(c.args)), "kwargs": encode(dict(c.kwargs)),
                               "state": None if c.state is None else encode(dict(c.state)),
                               "inputs": encode(tuple(c.inputs)), "build": c.build} for c in cases[e.grade_id]]}
            (io_dir / "inputs" / f"{e.grade_id}.json").write_text(json.dumps(spec), encoding="utf-8")
        stubs = {_normalise(c.source) for lang in release.LANGS
                 for c in release.build_lesson(source, lang).cells if release.is_answer_cell(c)}
        executed, errors, records, crashed = None, {}, {}, {}
        run_answers, retried = dict(answers), []
        for _ in range(3):  # a run that the learner's code ended is repeated without the answer that did it
            if not any(_normalise(src) not in stubs for src in run_answers.values()):
                break  # nothing (left) to run: a blank lesson costs no kernel at all
            for old in (io_dir / "outputs").iterdir():
                old.unlink()  # so that what is there afterwards is what this run reached
            executed, note, lost = execute(grading_notebook(trusted, run_answers, str(io_dir)), work,
                                           cell_timeout, timeout, GRADING_PARAMETERS, hide=hide,
                                           memory_mb=memory_mb, max_processes=max_processes, threads=threads)
            errors.update({k: v for k, v in cell_errors(executed).items() if k not in records})
            reached = {e.grade_id: r for e in exercises
                       if (r := _read_json(io_dir / "outputs" / f"{e.grade_id}.json")) is not None}
            records.update({k: r for k, r in reached.items() if k not in records})
            culprit = _culprit(exercises, reached, run_answers, stubs) if lost else None
            if culprit is None:
                res.note = say("; ", "。").join([*retried, note] if note else retried)
                break
            crashed[culprit] = stopped_by(lost, max_processes)
            run_answers[culprit] = release.stub(next(e for e in exercises if e.grade_id == culprit), "en")
            retried.append(say(f"{lost} in exercise {culprit}; the rest was graded without it",
                               f"{culprit} の答えで{lost_text(lost)}。残りはそれを除いて採点しました"))
            res.note = say("; ", "。").join(retried)
        for e in exercises:
            if e.grade_id in crashed:
                res.tests.append(ExerciseResult(e.number, e.grade_id, 0, e.points, crashed[e.grade_id]))
                continue
            res.tests.append(score_exercise(e, all_checks[e.grade_id], cases[e.grade_id], records.get(e.grade_id),
                                            answers.get(e.grade_id), stubs, notes.get(e.grade_id, ""),
                                            errors.get(e.grade_id), cell_timeout))
        point_to_failed_helpers(res.tests, exercises, all_checks, answers)
        if executed_to is not None and executed is not None:  # for the instructor: what the run printed
            Path(executed_to).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, str(executed_to))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.score = round(sum(t.score for t in res.tests), 4)
    res.seconds = time.perf_counter() - started
    return res


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def as_dict(res: SubmissionResult) -> dict:
    return asdict(res)

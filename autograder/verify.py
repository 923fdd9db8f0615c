"""Judging what a run sent back, in a process of its own with limits.

A learner's return value is plain data, but plain data can still be made to hurt whoever looks at it: a dict
whose keys all collide makes building it quadratic, an array that claims a huge dtype asks for gigabytes.
So the grader never decodes a return value itself. `judge()` hands the values to a child process (forked
from a server that has the checks and torch already imported, so a child starts in milliseconds), which
decodes each one within plain.py's bounds and runs the hidden check on it. The child has a memory limit,
each check a time limit; a check that runs out of either is that case's failure, with a message, and the
child is replaced for the cases after it. Answers travel back as JSON text of bounded size.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
from dataclasses import dataclass

CHECK_SECONDS = 60        # one hidden check, on one value
CHILD_MEMORY_MB = 8192    # address space of the checking process
MAX_ANSWER = 64 * 1024    # bytes of one check's message

_PRELOAD = ["torch", "numpy", "autograder.checks", "autograder.plain", "shikumi.lang"]
_lock = threading.Lock()
_context = None


@dataclass
class Item:
    grade_id: str
    case: int
    value: object  # plain data, as it came from the run


def _ctx(lesson: str):
    """The forkserver context, its server preloaded with torch, the checks' helpers and the first lesson's
    checks (a class is mostly one lesson; another lesson's module is imported in its child)."""
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([*_PRELOAD, f"autograder.checks.l{lesson}"])
            _context = ctx
        return _context


def warm(lesson: str) -> None:
    """Start the checking server now, in the background, while the notebook runs: its imports (torch) take
    seconds that the first judge() would otherwise wait for."""
    import multiprocessing.forkserver as forkserver

    _ctx(lesson)
    threading.Thread(target=forkserver.ensure_running, daemon=True).start()


def judge(lesson: str, lang: str, seed: int, order: list[str], items: list[Item],
          check_seconds: int = CHECK_SECONDS) -> list[str | None]:
    """The hidden checks' verdicts on `items` (None: right; else the message), in order. The cases are drawn
    again from `seed` in the exercises' `order`, exactly as the grader drew them."""
    verdicts: list[str | None] = []
    while len(verdicts) < len(items):
        rest = items[len(verdicts):]
        verdicts += _judge_some(lesson, lang, seed, order, rest, check_seconds)
    return verdicts


def _judge_some(lesson, lang, seed, order, items, check_seconds) -> list[str | None]:
    """As many verdicts as one child gives before it finishes, dies or runs out of time (then that item fails)."""
    from shikumi.lang import speaking, tr

    ctx = _ctx(lesson)
    parent, child = ctx.Pipe(duplex=True)
    job = json.dumps({"lesson": lesson, "lang": lang, "seed": seed, "order": order,
                      "items": [[i.grade_id, i.case, i.value] for i in items]})
    process = ctx.Process(target=_serve, args=(child,), daemon=True)
    process.start()
    child.close()
    verdicts: list[str | None] = []
    try:
        parent.send_bytes(job.encode())
        while len(verdicts) < len(items):
            if not parent.poll(check_seconds):
                with speaking(lang):
                    verdicts.append(tr(f"checking what your function returned took longer than {check_seconds} s "
                                         "(a very large or strange value?)",
                                         f"返ってきた値の確認に {check_seconds} 秒以上かかりました（とても大きい値や、"
                                         "変わった値ではありませんか？）"))
                break
            try:
                answer = json.loads(parent.recv_bytes(MAX_ANSWER))
            except (EOFError, OSError, ValueError):
                with speaking(lang):
                    verdicts.append(tr("checking what your function returned ran out of memory (a very large value?)",
                                         "返ってきた値の確認でメモリが足りなくなりました（とても大きい値ではありませんか？）"))
                break
            verdicts.append(answer if answer is None else str(answer))
    finally:
        parent.close()
        if process.is_alive():
            process.kill()
        process.join(10)
    return verdicts


def verdict(check, case, value) -> str | None:
    """The hidden check's verdict on one plain-data value: None when right, else the message. Never raises."""
    from autograder import checks as registry
    from autograder.plain import decode
    from shikumi.lang import tr

    call = registry.call_text(check.name, case)
    try:
        got = decode(value)
    except (ValueError, RecursionError, OverflowError, MemoryError) as e:
        return tr(f"{call} returned something the grader cannot read ({str(e)[:120]}).",
                    f"{call} が、採点プログラムの読めないものを返しました（{str(e)[:120]}）。")
    try:
        return check.verify(case, got)
    except Exception as e:  # a return value of a shape the check did not foresee
        return tr(f"{call} returned something unexpected ({type(e).__name__}).",
                    f"{call} が予想外のものを返しました（{type(e).__name__}）。")


def _serve(conn) -> None:
    """The child: decode each value within bounds, run its check, send the verdict."""
    import resource

    from autograder import checks as registry
    from shikumi.lang import speaking

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = CHILD_MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    job = json.loads(conn.recv_bytes())
    checks = registry.for_lesson(job["lesson"])
    rng = random.Random(job["seed"])
    cases = {gid: checks[gid].cases(rng) for gid in job["order"]}
    with speaking(job["lang"]):
        for grade_id, index, value in job["items"]:
            answer = verdict(checks[grade_id], cases[grade_id][index], value)
            text = json.dumps(answer if answer is None else str(answer)[:MAX_ANSWER // 8], ensure_ascii=False)
            conn.send_bytes(text.encode())
    conn.close()

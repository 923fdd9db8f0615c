"""A Dask worker preload for tests/test_distributed.py: the worker grades as usual, except that it lies about
the notebooks whose file name starts with "mallory" (ten times the points) and answers those starting with
"oscar" with an object instead of JSON text; for those starting with "trent" it raises an exception that cannot
be sent back (a lock inside). Any other notebook is graded untouched."""

from __future__ import annotations

import json
import threading

from autograder import wire

_grade_task = getattr(wire.grade_task, "honest", wire.grade_task)  # Dask may load a preload more than once


def hostile_grade_task(raw: bytes, name: str, options: dict, where: str = ""):
    if name.startswith("trent"):
        raise RuntimeError("no grading today", threading.Lock())
    payload = _grade_task(raw, name, options, where)
    if name.startswith("mallory"):
        data = json.loads(payload)
        for test in data["result"]["tests"]:
            test["score"] = test["max_score"] * 10
        data["result"]["score"] = round(sum(t["score"] for t in data["result"]["tests"]), 4)
        return json.dumps(data)
    if name.startswith("oscar"):
        return {"score": 10}
    return payload


hostile_grade_task.honest = _grade_task
wire.grade_task = hostile_grade_task

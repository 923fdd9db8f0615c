"""Grading on many machines: `shikumi grade DIR --out OUT --scheduler tcp://HOST:8786`.

One Dask task per submission. The task carries the submission's bytes and its file name (never a path) to a
Dask worker, which grades them in the same bubblewrap sandbox as `shikumi grade` does on one machine
(wire.grade_task) and sends back JSON text. This machine checks that text as untrusted (wire.accept) and alone
writes the results and the gradebook (batch.record): a re-run sends only what is not graded yet.

A worker that dies (killed, out of memory, its machine gone) loses nothing: the scheduler gives its tasks to
another worker. A task that keeps killing its workers is given up after Dask's `allowed-failures` (3) and
becomes that submission's "not graded" line. A task that raises instead (grade_task never does; a worker
missing a package might, before on_worker runs) is run again `RETRIES` times. The tasks are not tied to workers (no `workers=`), so
`allow_other_workers` has nothing to relax.

Every worker needs the course installed at the same commit (wire.course_digest tells), bubblewrap and user
namespaces. A worker started by a nanny (Dask's default) is a daemonic process, which multiprocessing forbids to
start children, and the grader's checking process (verify.py) is one: `on_worker` lifts that flag in the worker
itself (`distributed.worker.daemon: False` in Dask's configuration does the same from outside).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from autograder import grade as grading
from autograder import wire

CONNECT_S = float(os.environ.get("SHIKUMI_DASK_CONNECT_S") or 10)   # to reach the scheduler (a slow network:
                                                                    # set SHIKUMI_DASK_CONNECT_S higher)
WAIT_FOR_WORKERS_S = 120   # for a first worker to join it
RETRIES = 2                # a task that raised, run again
REBUILD_EVERY_S = 5        # the gradebook, while results come in (and once at the end)


class Unreachable(RuntimeError):
    """No scheduler, or no worker: the one line the instructor sees."""


def connect(address: str, timeout: float = CONNECT_S, wait_for_workers: float = WAIT_FOR_WORKERS_S):
    """A Dask client of the scheduler at `address` with at least one worker, or Unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise Unreachable("--scheduler needs Dask on this machine: pip install 'shikumi[dask]'") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as e:  # noqa: BLE001 — OSError, TimeoutError, ValueError (a malformed address)…
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise Unreachable(f"cannot reach the Dask scheduler at {address} ({why}): is `dask scheduler` running "
                          "there, and is its port open to this machine?") from None
    try:
        client.wait_for_workers(1, timeout=wait_for_workers)
    except Exception:  # noqa: BLE001 — TimeoutError, or the scheduler went away
        client.close()
        raise Unreachable(f"the Dask scheduler at {address} has no workers (waited {wait_for_workers:g} s): "
                          f"start one on each grading machine with `dask worker {address}`") from None
    return client


def grade(client, todo: list, out_dir: Path, options: dict, finished, term=None) -> None:
    """Grade `todo` [(submission, content hash)] on the cluster; `finished(result, rebuild)` for each, as it
    comes. Only a few tasks per worker thread are out at a time, so the class's bytes are never all in
    the scheduler's memory at once."""
    from distributed import as_completed

    from autograder import batch

    term = term or batch.NO_TERM   # what the course policy adds as each result is written (batch.Term)
    course = wire.course_digest()
    options = {k: v for k, v in options.items() if k != "threads"}  # each worker sets its own
    jobs, out = iter(todo), {}
    running = as_completed(loop=client.loop)
    last_rebuild = time.monotonic()

    def send_one() -> bool:
        for sub, digest in jobs:
            if sub.problem is None:
                try:
                    raw = grading.read_bytes(sub.path)
                except grading.SubmissionError as e:
                    sub.problem = str(e)
            if sub.problem is not None:  # nothing to grade: written here, at once
                finished(batch.write(batch.refused(sub), out_dir, sub, digest, term=term), True)
                continue
            future = client.submit(on_worker, raw, sub.path.name, options, pure=False, retries=RETRIES,
                                   key=f"shikumi-grade-{uuid.uuid4().hex}")
            out[future] = (sub, raw, digest)
            running.add(future)
            return True
        return False

    def in_flight() -> int:
        return max(4, 2 * sum(client.nthreads().values()))

    while len(out) < in_flight() and send_one():
        pass
    for future in running:
        sub, raw, digest = out.pop(future)
        try:
            payload = future.result()
        except Exception as e:  # noqa: BLE001 — KilledWorker, a task that raised RETRIES + 1 times, a lost scheduler
            payload = e
        future.release()
        res = batch.record(sub, raw, payload, out_dir, digest, options.get("seed"), course, term)
        rebuild = time.monotonic() - last_rebuild > REBUILD_EVERY_S
        last_rebuild = time.monotonic() if rebuild else last_rebuild
        finished(res, rebuild)
        while len(out) < in_flight() and send_one():
            pass


def on_worker(raw: bytes, name: str, options: dict) -> str:
    """The task, as a worker runs it: its cores shared by the tasks it runs at once, then wire.grade_task."""
    import multiprocessing

    from distributed import get_worker

    worker = get_worker()
    me = multiprocessing.current_process()
    if me.daemon:  # a nanny's worker is daemonic, and a daemonic process may not start the checking process
        try:       # (verify.py). This changes only this process's own view: its nanny still ends it.
            me.daemon = False
        except AssertionError:
            pass   # then grade_bytes says "daemonic processes are not allowed to have children"
    nthreads = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1)
    try:
        # The run's threads: the cores this worker may use (a batch job's CPU set) shared by its task threads. A
        # Kubernetes pod's CPU limit cannot be seen from inside: there SHIKUMI_GRADE_THREADS says it.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = int(os.environ.get("SHIKUMI_GRADE_THREADS") or 0) or max(1, cores // max(1, nthreads))
        return wire.grade_task(raw, name, {**options, "threads": threads}, where=worker.address)
    except BaseException as e:  # noqa: BLE001 — never: but an exception Dask cannot pickle back would hang the task
        return wire.problem(f"the task raised {type(e).__name__}: {str(e)[:300]}", where=worker.address)

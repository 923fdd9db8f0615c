"""`make bench`'s dask section: one class graded on this machine with 1 and 2 workers, and on a Dask scheduler
with 1 and 2 workers on loopback; Dask's own cost per task; the parallel efficiency from 1 to 2 workers.

The Dask workers are started once and kept, as they would be for a term (the first task on a worker pays its
imports: measured apart, as the cold start); `shikumi grade` on this machine starts afresh each time, as it
does when an instructor runs it. The four ways are run in turn, in reverse order every other round, and each
keeps its fastest round.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from benchmarks.measure import measure
from shikumi.course import release

ROOT = Path(__file__).resolve().parents[1]
LESSON = "01_ngram"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """`dask scheduler` and N `dask worker --nthreads 1` on 127.0.0.1, each its own process group."""

    def __init__(self, workers: int, tmp: Path):
        self.address, self.procs = f"tcp://127.0.0.1:{_free_port()}", []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT),
                                                             os.environ.get("PYTHONPATH", "")])}
        import distributed

        tmp.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            self._run(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                       self.address.rsplit(":", 1)[1], "--no-dashboard", "--idle-timeout", "3600"], env, tmp)
            for i in range(workers):
                self._run(["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-dashboard",
                           "--local-directory", str(tmp / f"w{i}"), "--death-timeout", "60"], env, tmp)
            with distributed.Client(self.address, timeout=60, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=300)
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.perf_counter() - start

    def _run(self, args: list[str], env: dict, cwd: Path) -> None:
        self.procs.append(subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=cwd, start_new_session=True,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def close(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def a_class(folder: Path, n: int) -> Path:
    """n complete submissions of the lesson (its solution notebook, as the grader section hands in)."""
    source = {p.stem: p for p in release.sources(ROOT)}[LESSON]
    nb = release.read_source(source)
    folder.mkdir(parents=True)
    for i in range(n):
        nbformat.write(nb, str(folder / f"learner{i:02d}.ipynb"))
    return folder


def task_overhead(address: str, payload_bytes: int, n: int = 40) -> tuple[float, float]:
    """Dask's own cost: milliseconds for one task that does nothing with a notebook's bytes (submit, run, result;
    one at a time), and tasks per second when n are sent at once."""
    import distributed

    data = os.urandom(payload_bytes)
    with distributed.Client(address, timeout=60, set_as_default=False) as client:
        client.submit(len, data, pure=False).result()  # warm
        one = []
        for _ in range(n):
            start = time.perf_counter()
            client.submit(len, data, pure=False).result()
            one.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.gather(client.map(len, [data] * n, pure=False))
        burst = time.perf_counter() - start
    return sorted(one)[len(one) // 2] * 1000, n / burst


def dask_section(args) -> list[str]:
    n, rounds = args.dask_batch, 2
    shikumi = [sys.executable, "-m", "shikumi", "grade"]
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cls = a_class(tmp / "class", n)
        size = max(p.stat().st_size for p in cls.iterdir())
        clusters = {}
        try:
            for workers in (1, 2):
                clusters[workers] = LoopbackCluster(workers, tmp / f"cluster{workers}")
                first = [str(cls / f"learner{i:02d}.ipynb") for i in range(workers)]  # one each: all warm
                cold = measure([*shikumi, *first, "--out", str(tmp / f"cold{workers}"),
                                "--scheduler", clusters[workers].address], cwd=tmp)
                clusters[workers].cold_seconds = cold.seconds
            ways = {"here, --workers 1": ["--workers", "1"], "here, --workers 2": ["--workers", "2"],
                    "Dask, 1 worker": ["--scheduler", clusters[1].address],
                    "Dask, 2 workers": ["--scheduler", clusters[2].address]}
            times: dict[str, list[float]] = {way: [] for way in ways}
            for r in range(rounds):
                for i, (way, extra) in (reversed(list(enumerate(ways.items()))) if r % 2 else enumerate(ways.items())):
                    m = measure([*shikumi, str(cls), "--out", str(tmp / f"out-{r}-{i}"), *extra], cwd=tmp)
                    if m.returncode:
                        raise RuntimeError(f"{way}: shikumi grade failed: {m.stderr_tail[-500:]}")
                    times[way].append(m.seconds)
                    print(f"  {way}: {m.seconds:.1f} s", flush=True)
            per_task_ms, per_second = task_overhead(clusters[2].address, size)
        finally:
            for cluster in clusters.values():
                cluster.close()
    best = {way: min(t) for way, t in times.items()}
    local_eff = best["here, --workers 1"] / (2 * best["here, --workers 2"])
    dask_eff = best["Dask, 1 worker"] / (2 * best["Dask, 2 workers"])
    per_sub_extra = (best["Dask, 2 workers"] - best["here, --workers 2"]) / n
    rows = [f"A class of {n} complete submissions of {LESSON} ({size / 1024:.0f} KB each), graded by `shikumi grade` "
            "(wall time of the whole command; each way's fastest of "
            f"{rounds} rounds). Load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end: "
            "the machine is shared.", "",
            "| how | wall time (s) | per submission (s) | all rounds (s) |", "|---|---:|---:|---|"]
    rows += [f"| {way} | {best[way]:.1f} | {best[way] / n:.2f} | {', '.join(f'{t:.1f}' for t in times[way])} |"
             for way in ways]
    rows += ["", "| figure | value |", "|---|---:|",
             f"| parallel efficiency 1 → 2 workers, here (T1 / 2·T2) | {local_eff:.0%} |",
             f"| parallel efficiency 1 → 2 workers, Dask (T1 / 2·T2) | {dask_eff:.0%} |",
             f"| Dask's extra time per submission against here, 2 workers ((T_dask − T_here) / {n}) | "
             f"{per_sub_extra:+.2f} s |",
             f"| Dask's own cost of one task carrying {size / 1024:.0f} KB (submit, run, result; median of 40) | "
             f"{per_task_ms:.1f} ms |",
             f"| tasks per second, 40 such tasks at once on 2 workers | {per_second:.0f} |",
             f"| start a scheduler and 1 / 2 workers on loopback | {clusters[1].start_seconds:.1f} / "
             f"{clusters[2].start_seconds:.1f} s |",
             f"| `shikumi grade` of a first submission per worker (their imports: the cold start), 1 / 2 workers | "
             f"{clusters[1].cold_seconds:.1f} / {clusters[2].cold_seconds:.1f} s |"]
    rows += ["", "Every way runs on the same 2 cores, the client, the scheduler and the workers included; with 2 "
             "workers two sandboxed kernels share them. A real cluster gives each worker cores of its own, so its "
             "efficiency is bounded by Dask's cost per task (milliseconds against seconds of grading), not by this "
             "machine."]
    return rows

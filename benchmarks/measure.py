"""Run a notebook in its own process and measure its wall time and peak memory (RSS of the whole process
tree: papermill and the kernel). Used by `make bench` and by the budget test in tests/test_notebooks.py."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

DEFAULT_PARAMETERS = {"DEVICE": "auto", "SIZE": "quick", "SEED": 0, "MODEL": "shipped"}
# papermill's command (`python -m papermill`), without the 1.3 s jsonschema spends, under nbformat, compiling the
# grammars of the optional rfc3987_syntax at import: nothing papermill validates is an IRI (as autograder/execute.py).
PAPERMILL = [sys.executable, "-c", "import sys; sys.modules.setdefault('rfc3987_syntax', None); "
             "from papermill.cli import papermill; sys.argv[0] = 'papermill'; papermill()"]


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr_tail: str
    timed_out: bool = False


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(cmd: list[str], cwd: str | Path | None = None, timeout: float = 1800,
            env: dict[str, str] | None = None) -> Measurement:
    """Run `cmd`, sampling the RSS of its process tree every 0.1 s; kill it (and its children) after `timeout` s."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            children = psutil.Process(proc.pid).children(recursive=True)   # the kernel too, not only papermill
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        proc.kill()
        _, stderr = proc.communicate()
    done.set()
    sampler.join()
    return Measurement(time.perf_counter() - start, peak / 2**20, proc.returncode, (stderr or "")[-2000:], timed_out)


def last_cell_started(notebook: str | Path) -> str:
    """The first line of the last code cell papermill started (papermill writes the notebook after each cell)."""
    import nbformat

    if not Path(notebook).exists():
        return "(none: papermill had not started)"
    nb = nbformat.read(str(notebook), as_version=4)
    started = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")]
    return started[-1].source.splitlines()[0] if started else "(none)"


def run_notebook(notebook: str | Path, output: str | Path, parameters: dict | None = None,
                 cwd: str | Path | None = None, timeout: float = 1800,
                 cell_timeout: float | None = None, env: dict[str, str] | None = None) -> Measurement:
    """papermill NOTEBOOK OUTPUT with parameters, measured. papermill writes OUTPUT after every cell, so after a
    timeout it shows how far the notebook got. By default, as the grader runs it: the shipped checkpoints
    (MODEL="shipped"), not a model trained in the lesson (that is `make bench`'s scratch section).

    cell_timeout: papermill stops a cell that has not finished after this many seconds (CellTimeoutError), and
    the notebook is run once more. ipykernel 7 now and then never answers a cell: the kernel idle, papermill
    waiting for its reply (ipykernel#1554; about one run in 30 of lesson 08 under load), as the grader reruns a
    stalled notebook. The seconds measured are the last run's."""
    cmd = [*PAPERMILL, str(notebook), str(output), "--no-progress-bar",
           "-y", json.dumps(DEFAULT_PARAMETERS if parameters is None else parameters)]
    if cell_timeout is None:
        return measure(cmd, cwd=cwd, timeout=timeout, env=env)
    cmd += ["--execution-timeout", str(int(cell_timeout))]
    m = measure(cmd, cwd=cwd, timeout=timeout, env=env)
    if m.returncode != 0 and "CellTimeoutError" in m.stderr_tail:
        print(f"{Path(notebook).name}: a cell never answered ({last_cell_started(output)}); running it once more")
        m = measure(cmd, cwd=cwd, timeout=timeout, env=env)
    return m

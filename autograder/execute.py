"""The runner inside the sandbox: execute the grading notebook with papermill, send back what the probes saw.

The grader copies this file into the run's world as /in/execute.py and starts it there:

    python /in/execute.py /in/job.json

It imports nothing of the grader (the grader is not in the run's world). It reports over file descriptor
CHANNEL, one JSON object per line, as things happen, so that a run stopped half-way still leaves what it
reached:

    {"type": "probe", "grade_id": …, "record": {…}}      one probe message, from that exercise's probe cell
    {"type": "cell_error", "grade_id": …, "error": "…"}   an answer cell raised
    {"type": "notebook", "notebook": {…}}                the executed notebook, outputs trimmed, at the end
    {"type": "stopped", "reason": "…"}                    papermill itself stopped (the kernel died, …)

Only messages of the probe's own kind, shown *in that exercise's probe cell*, count; which exercise is read
from the trusted cell's metadata, never from the message. This process makes itself undumpable, so the
learner's code (same uid) can neither trace it nor open its file descriptors.

Every code cell carries the `raises-exception` tag, so a failing cell does not stop the cells after it.
A cell is interrupted when the kernel has *computed* for `cell_timeout` seconds in it (CPU time, which a
busy machine does not inflate; at least 60 s for the lesson's own cells), or when it has *waited* too long:
3 × `cell_timeout` for the learner's cells and the probes, `trusted_timeout` for the lesson's own cells. So a busy machine makes grading slower, never
lower, and an endless loop stops as soon as it has used its share, in whichever cell it runs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import threading
import time

CHANNEL = 3
PROBE_MIME = "application/x-shikumi-probe+json"
GRADER_TAG = "grader"
MAX_MESSAGE = 4 * 2**20     # one probe message, as JSON text
MAX_TEXT_OUTPUT = 20_000    # characters of one output kept in the notebook sent back
MAX_NOTEBOOK = 8 * 2**20    # the notebook sent back


def undumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid cannot ptrace us or open /proc/<pid>/fd/…"""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def limit_resources(job: dict) -> None:
    """Per-process limits on top of the run's cgroup: core dumps off, the address space and file size capped."""
    limits = [(resource.RLIMIT_CORE, 0)]
    if job.get("memory_mb"):
        limits.append((resource.RLIMIT_AS, int(job["memory_mb"]) * 2**20))
    if job.get("fsize_mb"):
        limits.append((resource.RLIMIT_FSIZE, int(job["fsize_mb"]) * 2**20))
    if job.get("cpu_seconds"):
        limits.append((resource.RLIMIT_CPU, int(job["cpu_seconds"])))
    if job.get("nproc"):
        limits.append((resource.RLIMIT_NPROC, int(job["nproc"])))
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


class Channel:
    def __init__(self, fd: int):
        self.file = os.fdopen(fd, "w", encoding="utf-8", closefd=True) if fd >= 0 else sys.stdout

    def send(self, message: dict) -> None:
        try:
            self.file.write(json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n")
            self.file.flush()
        except (OSError, ValueError):
            pass


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (user + system), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def trimmed(nb) -> dict:
    """The executed notebook for the instructor, without the probes' messages and with long outputs cut."""
    data = json.loads(json.dumps(nb))
    for cell in data.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if PROBE_MIME in out.get("data", {}):
                continue
            for key in ("text", "evalue"):
                if isinstance(out.get(key), str) and len(out[key]) > MAX_TEXT_OUTPUT:
                    out[key] = out[key][:MAX_TEXT_OUTPUT] + "\n… (cut)"
            if "traceback" in out:
                out["traceback"] = [str(t)[:MAX_TEXT_OUTPUT] for t in out["traceback"][-30:]]
            for mime, value in list(out.get("data", {}).items()):
                if len(json.dumps(value)) > MAX_TEXT_OUTPUT * 20:
                    out["data"][mime] = "… (cut)" if mime.startswith("text") else ""
            outputs.append(out)
        cell["outputs"] = outputs
    if len(json.dumps(data)) > MAX_NOTEBOOK:
        for cell in data.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
    return data


def install_client(job: dict, channel: Channel) -> None:
    """papermill's client, taught three things: the time limit of each kind of cell, which messages count as
    a probe's, and to keep the grader's cells out of the kernel's history."""
    from papermill import engines
    from papermill.clientwrap import PapermillNotebookClient

    learner_cpu, trusted_timeout = int(job["cell_timeout"]), int(job["trusted_timeout"])
    trusted_cpu = max(learner_cpu, 60)  # the lesson's own cells: imports, loading a model
    current: dict = {}  # the cell running now: its kernel CPU time at the start

    def kind(cell) -> tuple[str, str | None]:
        meta = cell.get("metadata", {})
        nbg = meta.get("nbgrader", {}) if isinstance(meta.get("nbgrader"), dict) else {}
        if GRADER_TAG in meta.get("tags", []):
            gid = meta.get("shikumi_probe")
            return ("probe", gid) if gid else ("trusted", None)  # the watch at the top is the grader's own
        if nbg.get("solution") and not nbg.get("grade"):
            return "answer", nbg.get("grade_id")
        return "trusted", None

    class Client(PapermillNotebookClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.timeout_func = lambda cell: 3 * learner_cpu if kind(cell)[0] != "trusted" else trusted_timeout
            # a cell whose time is up ends as an error and the run goes on (without it, nbclient interrupts a
            # kernel that lost its reply again and again, for ever)
            self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": "the cell's time was up",
                                     "traceback": []}
            threading.Thread(target=self.watch_cpu, daemon=True).start()

        def kernel_pid(self) -> int | None:
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            return getattr(process, "pid", None)

        def watch_cpu(self) -> None:
            """Interrupt the kernel once it has computed for `cell_timeout` CPU seconds in one cell."""
            while True:
                time.sleep(0.25)
                pid, started = self.kernel_pid(), current.get("cpu")
                if pid is None or started is None:
                    continue
                if cpu_seconds(pid) - started > current["limit"] and not current.get("interrupted"):
                    current["interrupted"] = True
                    try:
                        os.kill(pid, signal.SIGINT)
                    except OSError:
                        pass

        def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            ours = {"injected-parameters", GRADER_TAG} & set(cell.metadata.get("tags", []))
            pid = self.kernel_pid()
            limit = learner_cpu if kind(cell)[0] != "trusted" else trusted_cpu
            current.update(cpu=cpu_seconds(pid) if pid else None, limit=limit, interrupted=False)
            try:
                cell = super().execute_cell(cell, cell_index, execution_count, store_history and not ours)
            finally:
                current.update(cpu=None)
            what, grade_id = kind(cell)
            if what == "answer":
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        channel.send({"type": "cell_error", "grade_id": grade_id,
                                      "error": f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"})
                        break
            return cell

        def process_message(self, msg, cell, cell_index):
            output = super().process_message(msg, cell, cell_index)
            what, grade_id = kind(cell)
            content = msg.get("content", {})
            if what == "probe" and msg.get("msg_type") == "display_data":
                record = content.get("data", {}).get(PROBE_MIME)
                if isinstance(record, dict):
                    text = json.dumps(record, allow_nan=False)
                    if len(text) <= MAX_MESSAGE:
                        channel.send({"type": "probe", "grade_id": grade_id, "record": record})
                    else:
                        channel.send({"type": "probe", "grade_id": grade_id,
                                      "record": {"oversized": len(text), "case": record.get("case")}})
            return output

    engines.PapermillNotebookClient = Client  # the client papermill's default engine creates


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    undumpable()
    channel = Channel(int(job.get("channel", CHANNEL)))
    limit_resources(job)

    sys.modules.setdefault("rfc3987_syntax", None)  # 3 s of imports no notebook needs
    import papermill
    from papermill.exceptions import PapermillExecutionError

    install_client(job, channel)
    output = os.path.join(os.getcwd(), ".executed.ipynb")
    executed = None
    try:
        executed = papermill.execute_notebook(
            job["notebook"], output, parameters=job.get("parameters", {}), cwd=os.getcwd(),
            kernel_name="python3", execution_timeout=int(job["cell_timeout"]), interrupt_on_timeout=True,
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            shutdown_kernel="immediate",
        )
    except PapermillExecutionError:
        pass  # some learner cell failed; the grader reads which from the messages
    except Exception as e:  # the kernel died, could not start, …: one line for the grader
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        channel.send({"type": "stopped", "reason": f"{type(e).__name__}: {first}"})
    if executed is None:
        try:
            import nbformat

            executed = nbformat.read(output, as_version=4)
        except Exception:
            executed = None
    if executed is not None:
        channel.send({"type": "notebook", "notebook": trimmed(executed)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

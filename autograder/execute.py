"""Run one grading notebook with papermill. Started by the grader as its own process:

    python -m autograder.execute IN.ipynb OUT.ipynb --cwd DIR --cell-timeout S --parameters JSON

Every code cell carries the `raises-exception` tag, so a failing cell does not stop the cells after it;
papermill still reports the failures at the end, which is expected here and not an error of this run.
"""

from __future__ import annotations

import argparse
import json
import sys


def limit_resources(args) -> None:
    """Limits inherited by the kernel and everything the learner's code starts (memory and process bombs,
    disk filling, endless CPU loops in C code that an interrupt cannot stop)."""
    import os
    import resource

    limits = [(resource.RLIMIT_AS, args.memory_mb * 2**20), (resource.RLIMIT_FSIZE, args.fsize_mb * 2**20),
              (resource.RLIMIT_CPU, args.cpu_seconds), (resource.RLIMIT_CORE, 0)]
    if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; the sandbox runs us as `nobody` when it can
        limits.append((resource.RLIMIT_NPROC, args.nproc))
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


def keep_grader_cells_out_of_history() -> None:
    """The cells papermill and the grader add (the injected parameters, the probes) run with
    store_history=False: they appear neither in the kernel's `In`/`_ih`/`Out` nor in its execution counts."""
    from papermill import engines
    from papermill.clientwrap import PapermillNotebookClient

    from autograder.harness import GRADER_TAG

    class Client(PapermillNotebookClient):
        def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            ours = {"injected-parameters", GRADER_TAG} & set(cell.metadata.get("tags", []))
            return super().execute_cell(cell, cell_index, execution_count, store_history and not ours)

    engines.PapermillNotebookClient = Client  # the client papermill's default engine creates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--cell-timeout", type=int, default=300)
    parser.add_argument("--parameters", default="{}")
    parser.add_argument("--memory-mb", type=int, default=6144, help="address-space limit of every process")
    parser.add_argument("--fsize-mb", type=int, default=256, help="largest file a process may write")
    parser.add_argument("--nproc", type=int, default=512, help="processes/threads of this user (not for root)")
    parser.add_argument("--cpu-seconds", type=int, default=3600, help="CPU time of each process")
    args = parser.parse_args(argv)
    limit_resources(args)

    sys.modules.setdefault("rfc3987_syntax", None)  # 3 s of imports no notebook needs: see autograder/__init__.py
    import papermill
    from papermill.exceptions import PapermillExecutionError

    keep_grader_cells_out_of_history()

    try:
        papermill.execute_notebook(
            args.input, args.output, parameters=json.loads(args.parameters), cwd=args.cwd,
            kernel_name="python3", execution_timeout=args.cell_timeout, interrupt_on_timeout=True,
            progress_bar=False, log_output=False, request_save_on_cell_execute=True,
            shutdown_kernel="immediate",  # everything is written by then: no need to wait seconds for a clean exit
        )
    except PapermillExecutionError:
        pass  # some learner cell failed; the grader reads which one from the output notebook
    except Exception as e:  # the kernel died, could not start, …: one line for the grader to report
        print(f"execution stopped: {type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Is this computer ready for the course?  `make selftest` (or `.venv/bin/python selftest.py`)

1. the library imports, every module of it, with PyTorch, and says which device the lessons will use;
2. every shipped checkpoint matches its SHA-256 (lib/shikumi/checkpoints/SHA256SUMS);
3. a lesson (01_ngram, English, unless told otherwise) runs with papermill up to its first exercise, in a
   temporary folder (your notebooks are not touched).

    python selftest.py [--lesson 00_first_neural_network] [--lang ja]
    python selftest.py --run my_notebook.ipynb      run a whole notebook instead (stops at the first error)

It prints one line per step and ends with `ready`, or with one sentence saying what is wrong (exit status 1).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNEL = "shikumi-selftest"   # a kernel of this very Python, whatever other kernels the machine knows


def step_library() -> str:
    import shikumi
    from shikumi.device import get_device

    for module in pkgutil.iter_modules(shikumi.__path__):
        importlib.import_module(f"shikumi.{module.name}")
    import torch

    return f"the library imports (PyTorch {torch.__version__}, device {get_device('auto')})"


def step_checkpoints() -> str:
    from shikumi import checkpoint

    sums = checkpoint.SHIPPED / checkpoint.SUMS
    names = [line.split()[-1].removesuffix(".safetensors") for line in sums.read_text().splitlines() if line.strip()]
    for name in names:
        checkpoint.verify(name)
    return f"{len(names)} checkpoints match their SHA-256"


def first_exercise(nb) -> int:
    """The index of the first answer cell (nbgrader `solution: true`), or the number of cells."""
    for i, cell in enumerate(nb.cells):
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("solution") and not nbgrader.get("grade"):
            return i
    return len(nb.cells)


def run_notebook(path: Path, whole: bool, workdir: Path) -> str:
    import nbformat
    import papermill

    nb = nbformat.read(str(path), as_version=4)
    end = len(nb.cells) if whole else first_exercise(nb)
    nb.cells = nb.cells[:end]
    kernels = workdir / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (shikumi self-test)", "language": "python"}))
    os.environ["JUPYTER_PATH"] = str(workdir / "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    source, out = workdir / "in.ipynb", workdir / "out.ipynb"
    nbformat.write(nb, str(source))
    started = time.perf_counter()
    papermill.execute_notebook(str(source), str(out), kernel_name=KERNEL, cwd=str(workdir), progress_bar=False)
    seconds = time.perf_counter() - started
    what = "ran top to bottom" if whole else "ran up to its first exercise"
    return f"{path.name} {what} ({sum(c.cell_type == 'code' for c in nb.cells)} code cells, {seconds:.0f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Is this computer ready for the Shikumi course?")
    parser.add_argument("--lesson", default="01_ngram", help="the lesson to run up to its first exercise")
    parser.add_argument("--lang", default="en", choices=["en", "ja"], help="the edition (default en)")
    parser.add_argument("--run", metavar="NOTEBOOK", help="run this whole notebook instead")
    args = parser.parse_args(argv)
    notebook = Path(args.run) if args.run else HERE / "lessons" / args.lang / f"{args.lesson}.ipynb"
    if not notebook.is_file():
        print(f"✗ {notebook} is not a notebook of this edition (see lessons/en and lessons/ja)")
        return 1
    steps = [step_library, step_checkpoints]
    for step in steps:
        try:
            print(f"✓ {step()}", flush=True)
        except Exception as e:  # one sentence, not a traceback wall
            print(f"✗ {step.__name__.removeprefix('step_')}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            print("  Run `make install` again; if it still fails, show this line to your instructor.")
            return 1
    with tempfile.TemporaryDirectory(prefix="shikumi-selftest-") as tmp:
        try:
            print(f"✓ {run_notebook(notebook, bool(args.run), Path(tmp))}", flush=True)
        except Exception as e:
            if hasattr(e, "ename"):  # papermill: an error in a cell of the notebook
                why = f"cell {e.exec_count}: {e.ename}: {str(e.evalue).splitlines()[0] if e.evalue else ''}"
            else:
                why = (traceback.format_exception_only(type(e), e)[-1].strip().splitlines() or [type(e).__name__])[-1]
            print(f"✗ {notebook.name} stopped in {why[:300]}")
            return 1
    print("ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())

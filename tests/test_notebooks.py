"""Every solution notebook runs top to bottom under papermill, with the small settings, within its budget."""

from __future__ import annotations

import time

import nbformat
import papermill
import pytest

from tests.conftest import ROOT, lesson_names

BUDGET_S = 120          # per lesson, on 2 CPU cores, with SIZE = "quick"
TOLERANCE = 1.5         # machines are noisy: fail only past 1.5× the budget


@pytest.mark.notebook
@pytest.mark.parametrize("name", lesson_names())
def test_solution_executes(name, tmp_path):
    out = tmp_path / f"{name}.ipynb"
    start = time.perf_counter()
    papermill.execute_notebook(str(ROOT / "solutions" / f"{name}.ipynb"), str(out), cwd=str(tmp_path),
                               parameters={"DEVICE": "auto", "SIZE": "quick", "SEED": 0},
                               kernel_name="python3", progress_bar=False)
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s")
    assert seconds < BUDGET_S * TOLERANCE, f"{name} took {seconds:.0f} s; its budget is {BUDGET_S} s"
    executed = nbformat.read(str(out), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # every self-check ran and passed
    checks = [c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks and all("all self-checks passed" in "".join(o.get("text", "") for o in c.outputs) for c in checks)

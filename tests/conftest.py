"""Shared helpers: where the course lives, how to make a learner's submission from a lesson, and how to run a
hidden check on an answer (the solution's own, or a classic mistake) as the grader would."""

from __future__ import annotations

import ast
import functools
import json
import os
import random
import sys
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)  # as autograder/__init__.py: 2 s of grammar compiling per worker

import nbformat  # noqa: E402
import pytest  # noqa: E402

from shikumi.course import release  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any kernel imports torch: parallel tests share 2 cores
if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers, two kernels, two cores: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# nbgrader's command, as its `nbgrader` script runs it, without jsonschema's 2 s of grammar compiling (above) in
# each run: nothing nbgrader validates is an IRI.
NBGRADER = [sys.executable, "-c", "import sys; sys.modules.setdefault('rfc3987_syntax', None); "
            "from nbgrader.apps.nbgraderapp import main; sys.argv[0] = 'nbgrader'; sys.exit(main())"]


def lesson_names() -> list[str]:
    return [p.stem for p in release.sources(ROOT)]


def answer_sources(nb) -> dict[str, str]:
    return {release.grade_id(c): c.source for c in nb.cells if release.is_answer_cell(c)}


def make_submission(tmp_path: Path, lesson: str, answers: dict[str, str] | None = None, lang: str = "en",
                    name: str | None = None, edit=None) -> Path:
    """The released lesson as a learner would hand it in: `answers` {grade_id: source} typed into its
    answer cells; `edit(nb)` may change anything else first."""
    nb = nbformat.read(str(ROOT / "lessons" / lang / f"{lesson}.ipynb"), as_version=4)
    for cell in nb.cells:
        if release.is_answer_cell(cell) and release.grade_id(cell) in (answers or {}):
            cell.source = answers[release.grade_id(cell)]
    if edit is not None:
        edit(nb)
    path = tmp_path / (name or f"{lesson}.ipynb")
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="session")
def solutions() -> dict[str, dict[str, str]]:
    """{lesson: {grade_id: the complete answer}} from the lessons' solution editions."""
    return {name: answer_sources(release.solution_edition(name, "en")) for name in lesson_names()}


# -- running hidden checks as the grader does -----------------------------------------------------------------

def round_trip(value):
    """A value after the trip between the learner's kernel and the grader (autograder.plain through JSON)."""
    from autograder.plain import decode, encode

    return decode(json.loads(json.dumps(encode(value))))


def plain(value) -> str:
    """A value as plain data, comparable as text."""
    from autograder.plain import encode

    return json.dumps(encode(value), sort_keys=True)


@functools.cache
def solution_answers(lesson: str) -> dict:
    """{name: the solution's own function or class} for every exercise of a lesson: the one reference answer,
    from its solution edition. Its answer cells run in order, after the lesson's imports and UPPER_CASE constants
    that they use; nothing else of the lesson runs (no training, no plots)."""
    nb = release.solution_edition(lesson, "en")
    answers = [c.source for c in nb.cells if release.is_answer_cell(c)]
    others = [ast.parse(c.source) for c in nb.cells
              if c.cell_type == "code" and not release.is_answer_cell(c) and not c.source.lstrip().startswith("%")]
    setup = [node for tree in others for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
             or isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
             and node.targets[0].id.isupper()]

    def used(tree) -> set[str]:
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}

    def bound(node) -> set[str]:
        if isinstance(node, ast.Assign):
            return {node.targets[0].id}
        return {(a.asname or a.name).split(".")[0] for a in node.names}

    needed, chosen = set().union(*(used(ast.parse(a)) for a in answers)), set()
    while grown := [i for i, node in enumerate(setup) if i not in chosen and bound(node) & needed]:
        chosen.update(grown)
        needed |= set().union(*(used(setup[i]) for i in grown))
    namespace: dict = {}
    exec(compile(ast.Module([setup[i] for i in sorted(chosen)], []), f"solutions/{lesson}.py", "exec"), namespace)
    for source in answers:
        exec(compile(source, f"solutions/{lesson}.py", "exec"), namespace)
    return {e.grade_id: namespace[e.grade_id] for e in release.exercises(nb)}


def graded_value(check, impl, case):
    """What the grader receives from `impl` on `case`: a function called, or (kind "module") a module built,
    loaded with the case's weights and called in eval mode under no_grad; inputs and output through round_trip."""
    if check.kind == "module":
        import torch

        module = impl(*round_trip(case.args), **round_trip(case.kwargs))
        module.load_state_dict(dict(round_trip(case.state)))
        module.eval()
        with torch.no_grad():
            return round_trip(module(*round_trip(case.inputs)))
    return round_trip(impl(*round_trip(case.args), **round_trip(case.kwargs)))


def run_check(lesson: str, name: str, impl, seed: int) -> list:
    """[(case, value as the grader sees it, the check's message)] for every case one seed draws."""
    from autograder.checks import for_lesson

    check = for_lesson(lesson)[name]
    return [(case, value, check.verify(case, value))
            for case in check.cases(random.Random(seed)) for value in [graded_value(check, impl, case)]]


# -- scheduling: `make test` runs pytest -n 2 --dist loadgroup ----------------------------------------------------
# Two workers finish together when the longest tests start first and the short ones fill the gaps: each worker
# takes the next test as it frees up. The figures are seconds of a full `make test` on 2 cores (AMD EPYC, load 3,
# 2026-12-02, scaled by what this session's cuts measured): a hint for the order only. A test missing here runs
# after these, in file order. Keep the longest of a new file here.
LONGEST_FIRST = {
    "tests/test_notebooks.py::test_solution_executes[10_chatgpt]": 160,
    "tests/test_browser.py": 150,
    "tests/test_distributed.py::cluster": 120,
    "tests/test_nbgrader_interop.py": 100,
    "tests/test_grading.py::test_solution_gets_full_marks_and_blank_lessons_zero[04_gpt]": 85,
    "tests/test_hub.py::test_a_study_session_on_one_hub": 85,
    "tests/test_notebooks.py::test_solution_executes[04_gpt]": 78,
    "tests/test_grading.py::test_solution_gets_full_marks_and_blank_lessons_zero[10_chatgpt]": 75,
    "tests/test_learner_edition.py::test_it_installs_and_runs_on_its_own": 60,
    "tests/test_batch.py": 50,
    "tests/test_notebooks.py::test_solution_executes": 45,
    "tests/test_attacks.py::test_an_honest_and_a_hostile_class_graded_at_the_same_time": 38,
    "tests/test_attacks.py::test_a_fork_bomb_is_stopped": 32,
    "tests/test_attacks.py::test_memory_is_limited_for_the_whole_run": 28,
    "tests/test_grading.py::test_solution_gets_full_marks_and_blank_lessons_zero": 25,
    "tests/test_finetune.py::test_a_short_fine_tune_learns_the_held_out_answers": 23,
    "tests/test_gpu_path_on_cpu.py::test_every_model_trains_through_torch_compile": 22,
    "tests/test_attacks.py": 20,
    "tests/test_preference.py::test_a_short_dpo_raises_the_held_out_win_rate": 20,
    "tests/test_finetune.py::test_shipped_sft_answers_held_out_instructions_better_than_the_base": 20,
    "tests/test_gradescope.py::bundle": 20,
    "tests/test_present.py::presented": 17,
}
# The tests of a module that use one of its expensive module-scoped fixtures run on one worker, so that the
# fixture is made once, not once per worker: {module: its fixtures}.
SHARED_ON_ONE_WORKER = {"test_distributed": {"cluster", "honest"}, "test_gradescope": {"bundle"},
                        "test_present": {"presented"}, "test_learner_edition": {"edition"},
                        "test_browser": {"browser", "lab"}, "test_bpe": {"trained"}}


def _weight(item) -> float:
    path, _, name = item.nodeid.partition("::")
    keys = [item.nodeid.split("@")[0], f"{path}::{name.split('[')[0]}", path,
            *(f"{path}::{f}" for f in item.fixturenames)]
    return max((LONGEST_FIRST.get(k, 0) for k in keys), default=0)


@pytest.hookimpl(wrapper=True)  # a wrapper: before xdist's own hook reads the xdist_group marks (tryfirst is not)
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.nodeid.partition("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if SHARED_ON_ONE_WORKER.get(module, set()) & set(item.fixturenames):
            item.add_marker(pytest.mark.xdist_group(module))
    items.sort(key=_weight, reverse=True)   # stable: file order among equals
    result = yield
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        # xdist 3.8 names an item's group by setting item._nodeid, which pytest 9.2 no longer reads (its nodeid
        # comes from item._id): without this, loadgroup groups nothing. A no-op once xdist does it again.
        from _pytest.nodeid import coerce_node_id

        for item in items:
            groups = sorted({str(m.args[0]) for m in item.iter_markers("xdist_group") if m.args})
            if groups and "@" not in item.nodeid:
                item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")
    return result

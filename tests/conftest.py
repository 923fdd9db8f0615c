"""Shared helpers: where the course lives, how to make a learner's submission from a lesson, and how to run a
hidden check on an answer (the solution's own, or a classic mistake) as the grader would."""

from __future__ import annotations

import ast
import functools
import json
import os
import random
from pathlib import Path

import nbformat
import pytest

from shikumi.course import release

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any kernel imports torch: parallel tests share 2 cores
if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers, two kernels, two cores: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")


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

"""Shared helpers: where the course lives, and how to make a learner's submission from a lesson."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from shikumi import release

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

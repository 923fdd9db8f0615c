"""The presenter's edition: each lesson run once, with its outputs in place, and laid out as slides.

    shikumi release --present build/present            # every lesson, English and Japanese
    shikumi release --present build/present --lang ja --lessons 01_ngram

A study session's presenter (slide 2: 「社内勉強会向け」) opens `build/present/ja/01_ngram.ipynb` in JupyterLab
and either runs it live or shows what it printed and drew when it was built: a live demo on a busy laptop is
a gamble (lesson 04 took from 81 s to 14 min under load), recorded outputs are not.

Each edition is the lesson *complete with its answers* (the solution edition), executed with the shipped
models and the quick settings, then given slideshow metadata for jupyterlab-rise (installed by `make lab`;
press Alt+R, or the slideshow button in the notebook's toolbar):

- the title and each section (`#`, `##` headings) start a slide; each exercise (`###`) a sub-slide;
- an exercise's answer and its self-check appear as fragments, one click each, after the room has tried;
- the settings and import cells are skipped; code cells longer than LONG_CELL lines are collapsed in
  JupyterLab (click the bar to open them) and scroll on their slide.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from shikumi.course import release

LONG_CELL = 14   # lines: a longer code cell is collapsed in the notebook view
CELL_TIMEOUT = 1200  # seconds one cell may run while building (a busy laptop trains slowly)
PARAMETERS = {"MODEL": "shipped"}   # the recorded run loads the shipped models (a lesson that trains live, 04,
                                    # can still be run live in the room)


def slide_type(cell, index_in_code: int) -> str:
    """RISE's slide_type of one cell: "slide", "subslide", "fragment", "skip" or "-" (same slide)."""
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
        return "-"
    if "parameters" in cell.metadata.get("tags", []) or index_in_code == 1:   # the settings, the imports
        return "skip"
    if release.is_answer_cell(cell) or release.is_check_cell(cell):
        return "fragment"
    return "-"


def as_slides(nb):
    """Slideshow metadata on every cell of an (executed) notebook; returns the notebook."""
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            code_index += 1
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, code_index - 1 if cell.cell_type == "code"
                                                                else -1)}
        if cell.cell_type == "code" and len(cell.source.splitlines()) > LONG_CELL:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    nb.metadata["rise"] = {"scroll": True, "transition": "none", "enable_chalkboard": False}
    return nb


def build(out_dir: Path, langs=release.LANGS, lessons: list[str] | None = None, root: Path | None = None,
          execute: bool = True, log=print) -> list[Path]:
    """Write out_dir/<lang>/NN_name.ipynb for each lesson and language: executed, with slideshow metadata.
    A lesson that fails while running is still written (its error in place) and named in the log."""
    import os

    backend = os.environ.get("MPLBACKEND")
    if (backend or "").lower() == "agg":   # a shell (or a test run) set for no pictures: the presenter's edition
        os.environ.pop("MPLBACKEND")       # needs its plots drawn inline; given back when the build ends
    try:
        return _build(out_dir, langs, lessons, root, execute, log)
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend


def _build(out_dir: Path, langs, lessons, root, execute: bool, log) -> list[Path]:
    import papermill

    written = []
    for src in release.sources(root):
        if lessons and src.stem not in lessons:
            continue
        for lang in langs:
            nb = release.build_lesson(release.read_source(src), lang, source_name=f"solutions/{src.name}",
                                      answers=True)
            nb.metadata["shikumi"]["edition"] = "presenter"
            path = Path(out_dir) / lang / f"{src.stem}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            if execute:
                with tempfile.TemporaryDirectory() as work:
                    unexecuted = Path(work) / path.name
                    nbformat.write(nb, str(unexecuted))
                    log(f"running {lang}/{src.stem} …")
                    try:
                        nb = papermill.execute_notebook(str(unexecuted), str(Path(work) / "out.ipynb"), cwd=work,
                                                        parameters=PARAMETERS, progress_bar=False,
                                                        execution_timeout=CELL_TIMEOUT, kernel_name="python3")
                    except papermill.PapermillExecutionError as e:
                        log(f"  {lang}/{src.stem} stopped in a cell: {e.ename}: {str(e.evalue)[:200]}")
                        nb = nbformat.read(str(Path(work) / "out.ipynb"), as_version=4)
            for cell in nb.cells:
                cell.metadata.pop("papermill", None)
                cell.metadata.pop("execution", None)
            nb.metadata.pop("papermill", None)
            nbformat.write(as_slides(nb), str(path))
            written.append(path)
    return written

"""The presenter's edition: a lesson run once with its outputs in place, laid out as slides for RISE."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from shikumi.course import present, release
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def presented(tmp_path_factory):
    out = tmp_path_factory.mktemp("present")
    proc = subprocess.run([sys.executable, "-m", "shikumi", "release", "--root", str(ROOT), "--present", str(out),
                           "--lang", "ja", "--lessons", "01_ngram"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return nbformat.read(str(out / "ja" / "01_ngram.ipynb"), as_version=4)


def test_the_presenter_edition_is_run_with_its_outputs_in_place(presented):
    code = [c for c in presented.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)   # the plots are there
    assert presented.metadata["shikumi"]["edition"] == "presenter" and presented.metadata["shikumi"]["lang"] == "ja"
    assert not any("en" in c.metadata.get("tags", []) for c in presented.cells)


def test_the_presenter_edition_is_laid_out_as_slides(presented):
    kinds = [c.metadata["slideshow"]["slide_type"] for c in presented.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 5
    exercises = release.exercises(presented)
    answers = [c for c in presented.cells if release.is_answer_cell(c)]
    assert len(answers) == len(exercises) and all(c.metadata["slideshow"]["slide_type"] == "fragment" for c in answers)
    assert all(release.BEGIN in c.source for c in answers)        # the presenter's copy has the answers
    params = next(c for c in presented.cells if "parameters" in c.metadata.get("tags", []))
    assert params.metadata["slideshow"]["slide_type"] == "skip"
    long = [c for c in presented.cells if c.cell_type == "code" and len(c.source.splitlines()) > present.LONG_CELL]
    assert long and all(c.metadata["jupyter"]["source_hidden"] for c in long)
    assert presented.metadata["rise"]["scroll"] is True


def test_slide_types_follow_the_headings():
    md = nbformat.v4.new_markdown_cell
    assert present.slide_type(md("## 2. Section"), -1) == "slide"
    assert present.slide_type(md("### Exercise 1.1"), -1) == "subslide"
    assert present.slide_type(md("Some prose"), -1) == "-"
    assert present.slide_type(nbformat.v4.new_code_cell("import torch"), 1) == "skip"
    assert present.slide_type(nbformat.v4.new_code_cell("x = 1"), 5) == "-"


def test_building_gives_the_shells_matplotlib_backend_back(tmp_path, monkeypatch):
    """The build draws plots inline (it lifts MPLBACKEND=Agg while lessons run), then gives the setting back."""
    import os

    monkeypatch.setenv("MPLBACKEND", "Agg")
    present.build(tmp_path, langs=("en",), lessons=["01_ngram"], root=ROOT, execute=False, log=lambda *a: None)
    assert (tmp_path / "en" / "01_ngram.ipynb").exists()
    assert os.environ.get("MPLBACKEND") == "Agg"

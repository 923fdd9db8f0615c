"""benchmarks/run.py's bookkeeping (no timing here): results.md keeps one dated block per section, and a run of
some sections replaces those blocks and keeps the others."""

from __future__ import annotations

import pytest

from benchmarks import run


@pytest.fixture
def fake_sections(monkeypatch):
    calls = []

    def fake(name):
        def measure(args):
            calls.append(name)
            return ["| what | course | reference | ratio |", f"| {name} | 1 | 2 | 0.50 |"]
        return measure

    sections = {name: (title, fake(name)) for name, (title, _) in run.SECTIONS.items()}
    sections["fidelity"] = (sections["fidelity"][0], lambda args: None)   # a section that measured nothing
    monkeypatch.setattr(run, "SECTIONS", sections)
    return calls


def test_a_partial_run_keeps_the_other_sections(tmp_path, fake_sections):
    out = tmp_path / "results.md"
    run.main(["--only", "models,unet", "--out", str(out), "--device", "cpu", "--note", "first run"])
    first = run.read_sections(out)
    assert fake_sections == ["models", "unet"]
    assert list(first) == list(run.SECTIONS)                       # every section has a block, in order
    assert "| models | 1 | 2 | 0.50 |" in first["models"] and "first run" in first["models"]
    assert "Not measured yet" in first["sampling"] and "--only sampling" in first["sampling"]
    assert "Measured " in first["unet"] and "torch " + run.torch.__version__ in first["unet"]

    run.main(["--only", "sampling,fidelity", "--out", str(out), "--device", "cpu"])
    second = run.read_sections(out)
    assert second["models"] == first["models"] and second["unet"] == first["unet"]   # kept as they were
    assert "| sampling | 1 | 2 | 0.50 |" in second["sampling"] and "first run" not in second["sampling"]
    assert out.read_text().startswith("# Benchmarks")
    assert "Not measured yet" in second["fidelity"] and "Measured" not in second["fidelity"]


def test_unknown_sections_are_refused(tmp_path, fake_sections, capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "models,speed", "--out", str(tmp_path / "r.md")])
    assert "speed" in capsys.readouterr().err and fake_sections == []

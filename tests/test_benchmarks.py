"""benchmarks/run.py's bookkeeping: results.md keeps one dated block per section, and a run of some sections
replaces those blocks and keeps the others; the one runner of the scratch sections stops at its budget of
CPU-seconds and measures at each mark (CPU time of this process only, never wall time); full_recipes.py caps
each of its GPU runs."""

from __future__ import annotations

import argparse
import time

import pytest
import torch

from benchmarks import run
from shikumi.train import TrainConfig, train


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


def _burn(seconds: float) -> None:
    """Use `seconds` of this process's CPU time."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def _tiny_fit(step_cost: float = 0.0):
    """fit (see run._scratch): a linear layer from seed 0, each step costing at least `step_cost` CPU-seconds."""
    def fit(live, steps):
        torch.manual_seed(0)
        x = torch.randn(32, 4)

        def loss_fn(model, batch):
            _burn(step_cost)
            return model(batch[0]).pow(2).mean()

        cfg = TrainConfig(max_steps=steps, eval_every=0, eval_steps=1, device="cpu", cpu_threads=1, progress=False)
        train(torch.nn.Linear(4, 1), lambda split: (x,), loss_fn, cfg, live=live)
    return fit


def test_the_scratch_runner_stops_at_its_budget_and_measures_at_each_mark():
    marks, budget, step_cost = [0.1, 0.2, 0.3, 0.4], 0.5, 0.002

    def measure(model):                                   # 0.1 CPU-s each, left out of the training time
        _burn(0.1)
        return model.weight.detach().clone()

    result = run._scratch(_tiny_fit(step_cost), budget, marks, measure, steps=2000)
    done, planned = map(int, result["steps"].split(" of "))
    assert planned == 2000 and done <= budget / step_cost + 1   # stopped by the budget, not by the recipe
    assert budget <= result["cpu"] < budget + 0.05
    cpu = [c for c, _, _ in result["points"]]
    steps = [s for _, s, _ in result["points"]]
    assert len(cpu) == len(marks) + 1                             # one point a mark, and one at the end
    assert all(0 <= c - m < 0.02 for c, m in zip(cpu, [*marks, budget]))
    # 0.1 CPU-s of training between two marks: at most 50 steps of 2 ms, at least 20 if the loop's own cost
    # is under 3 ms a step; a runner that counted the measuring would step once between them
    assert all(20 <= b - a <= 51 for a, b in zip(steps, steps[1:]))
    assert steps[-1] == done - 1
    assert not torch.equal(result["points"][0][2], result["points"][-1][2])   # the model measured as it trains
    assert torch.equal(result["points"][-1][2], result["model"].weight)


def test_steps_within_a_budget_follow_the_cpu_time_of_a_step():
    steps = run._steps_within(_tiny_fit(step_cost=0.002), budget=1.0)
    assert 0.95 / (0.002 + 0.003) <= steps <= 0.95 / 0.002       # 95 % of 1 s over 2 ms + the loop's own cost


def test_the_scratch_tables_have_a_cell_for_every_column(tmp_path, monkeypatch):
    """Sections 4d and 4g at their full budgets, from made-up runs: each table row as wide as its header, each
    'at N CPU s' column the point measured at N."""
    from shikumi.zoo import sd_shapes

    monkeypatch.setattr(run, "RESULTS", tmp_path / "results.md")                  # the plots go beside it
    gpt_run = {"points": [(c + 0.2, c, 2.5 - c / 100) for c in range(0, 125, 5)], "steps": "9 of 9", "cpu": 120,
               "wall": 130, "whole": 1.9}
    monkeypatch.setattr(run, "_gpt_scratch", lambda recipe, budget, squeeze, device, marks: gpt_run)
    monkeypatch.setattr(run, "_scratch_translator", lambda args: [])
    lines = run.scratch(argparse.Namespace(scratch_seconds=run.SCRATCH_BUDGET_S, device=torch.device("cpu")))
    sd_run = {"points": [(c + 0.2, c, (c / 200, c / 400)) for c in range(0, 185, 15)], "setup": 7.0, "steps": "9 of 9"}
    runs = {"live (new)": (sd_shapes.RECIPES["live"], sd_run, {"color_shape": 0.9}, {"color_shape": 0.7})}
    lines += ["", *run._scratch_08_report(runs, run.SCRATCH_08_BUDGET_S)]
    tables, table = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            tables, table = [*tables, table], []
    assert len(tables) == 3
    for table in tables:
        assert len({line.count("|") for line in table}) == 1, table
    assert "| 2.350 | 2.200 | 1.900 | 1.600 | 1.300 | **1.900** | yes |" in tables[0][2]   # at 15, 30, 60, 90, 120
    assert "| 15% / 8% | 30% / 15% | 45% / 22% | 60% / 30% | 75% / 38% | 90% / 45% |" in tables[2][2]
    assert (tmp_path / "scratch_04.png").exists() and (tmp_path / "scratch_08.png").exists()


def test_full_recipes_caps_each_run_and_puts_the_recipe_back():
    """benchmarks/full_recipes.py (for a GPU day): its Deadline stops the one loop once its seconds are spent,
    and recipe_as swaps a recipe in only while the recipe function runs, even if that fails."""
    from benchmarks import full_recipes
    from shikumi.zoo import clip_shapes

    model = torch.nn.Linear(4, 1)
    watch = full_recipes.Deadline(0.0)
    history = train(model, lambda split: (torch.randn(8, 4),), lambda m, b: m(b[0]).pow(2).mean(),
                    TrainConfig(max_steps=1000, eval_every=0, eval_steps=1, progress=False), live=watch)
    assert len(history.step) == watch.steps == 1 and watch.planned == 1000

    full = clip_shapes.RECIPES["full"]
    with pytest.raises(RuntimeError), full_recipes.recipe_as(clip_shapes.RECIPES, "full", "old settings"):
        assert clip_shapes.RECIPES["full"] == "old settings"
        raise RuntimeError("the recipe failed")
    assert clip_shapes.RECIPES["full"] is full

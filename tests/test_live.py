"""Watching a model learn (issue 15): Muon in the one training loop, the CPU-time budget, shikumi.live."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
import torch

from benchmarks.measure import run_notebook
from shikumi.gpt import GPT, GPTConfig
from shikumi.live import LiveTraining
from shikumi.train import TrainConfig, make_optimizers, muon_matrices, train
from shikumi.zoo import gpt_shakespeare
from tests.conftest import ROOT


def _tiny_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, d_model=16))


def _copy_task(batch=16, T=8, vocab=11):
    """The next token is the current one plus 1 (mod vocab): learnable in a few dozen steps."""
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        start = torch.randint(vocab, (batch, 1), generator=g)
        x = (start + torch.arange(T)) % vocab
        return x, (x + 1) % vocab

    def loss_fn(model, b):
        x, y = b
        return torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())

    return get_batch, loss_fn


def test_muon_takes_the_hidden_matrices_and_adamw_the_rest():
    model = _tiny_gpt()
    names = {id(p): n for n, p in model.named_parameters()}
    muon, adamw = make_optimizers(model, TrainConfig(optimizer="muon"))
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)
    in_muon = sorted(names[id(p)] for g in muon.param_groups for p in g["params"])
    expected = sorted(f"blocks.{i}.{m}.weight" for i in range(2)
                      for m in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "mlp.fc", "mlp.proj"))
    assert in_muon == expected                         # not the embedding its tied output layer shares
    in_adamw = {names[id(p)] for g in adamw.param_groups for p in g["params"]}
    assert "token_embedding.weight" in in_adamw and not in_adamw & set(in_muon)
    assert len(in_adamw) + len(in_muon) == len(list(model.parameters()))
    assert [type(o) for o in make_optimizers(model, TrainConfig())] == [torch.optim.AdamW]


def test_muon_leaves_an_untied_head_and_convolutions_to_adamw():
    model = torch.nn.Sequential()
    model.add_module("conv", torch.nn.Conv2d(3, 4, 3))
    model.add_module("hidden", torch.nn.Linear(4, 4))
    model.add_module("head", torch.nn.Linear(4, 2))
    assert muon_matrices(model) == [model.hidden.weight]


def test_an_unknown_optimizer_is_one_clear_sentence():
    with pytest.raises(ValueError, match="choose 'adamw' or 'muon'"):
        make_optimizers(_tiny_gpt(), TrainConfig(optimizer="sgd"))


def test_muon_trains_a_gpt():
    get_batch, loss_fn = _copy_task()
    model = _tiny_gpt()
    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=60, lr=1e-2, warmup_steps=5, eval_every=0,
                                                           eval_steps=1, progress=False, optimizer="muon"))
    assert history.eval_loss[-1] < 0.5 * history.train_loss[0]


def test_max_cpu_seconds_stops_early_with_a_final_evaluation():
    get_batch, loss_fn = _copy_task()
    history = train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=10**6, max_cpu_seconds=0.5,
                                                                 progress=False, eval_every=0, eval_steps=1))
    assert len(history.step) < 10**6 and history.eval_step == [history.step[-1]]


# -- shikumi.live --------------------------------------------------------------------------------------------


def test_live_calls_the_sample_function_and_prints_a_bounded_text(capsys):
    get_batch, loss_fn = _copy_task()
    calls = []

    def sample(model):
        calls.append(model.training)
        return "abc" * 50

    live = LiveTraining(sample_fn=sample, every_s=0, mode="text", lang="en", max_lines=6)
    history = train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=40, eval_every=10, eval_steps=1,
                                                                 progress=False), live=live)
    assert len(history.step) == 40
    assert len(calls) == 41 and not any(calls)          # every step, and once at the end; in eval mode
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("step", "---", "done"))]
    assert 2 <= len(lines) <= 6 and lines[-1].startswith("done: 40 steps")


def test_stop_keeps_the_model_and_returns_the_history_so_far():
    get_batch, loss_fn = _copy_task()
    model = _tiny_gpt()
    snapshots = []

    class StopAfter(LiveTraining):
        def update(self, model, step, history):
            super().update(model, step, history)
            if step == 4:
                self.stop_requested = True                  # what the Stop button does
                snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
            return self.stop_requested

    live = StopAfter(mode="text", lang="en")
    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=1000, eval_every=0, eval_steps=1,
                                                           progress=False), live=live)
    assert history.step == [0, 1, 2, 3, 4] and history.eval_step == [4]
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in snapshots[0].items())   # the model as it was at the stop


def test_stop_after_s_stops_as_the_button_does(capsys):
    """stop_after_s=0: due at the first check, after step 0. The lesson gets the model and history as Stop leaves
    them, and the same words."""
    get_batch, loss_fn = _copy_task()
    model = _tiny_gpt()
    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=1000, eval_every=0, eval_steps=1,
                                                           progress=False),
                    live=LiveTraining(mode="text", lang="en", stop_after_s=0))
    assert history.step == [0] and history.eval_step == [0] and not model.training
    assert "stopped at step 1: the model is kept as it is" in capsys.readouterr().out
    history = train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=5, eval_every=0, eval_steps=1,
                                                                 progress=False),
                    live=LiveTraining(mode="text", lang="en", stop_after_s=3600))
    assert history.step == [0, 1, 2, 3, 4] and "stopped" not in capsys.readouterr().out


def test_jupyters_interrupt_stops_like_the_button_only_while_watching():
    _, loss_fn = _copy_task()
    inner, steps = _copy_task()[0], []

    def get_batch(split):
        if split == "train":
            steps.append(1)
            if len(steps) == 4:
                raise KeyboardInterrupt
        return inner(split)

    history = train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=100, eval_every=0, eval_steps=1,
                                                                 progress=False),
                    live=LiveTraining(mode="text", lang="en"))
    assert history.step == [0, 1, 2] and history.eval_step == [2]
    steps.clear()
    with pytest.raises(KeyboardInterrupt):                  # a script or `shikumi train`: Ctrl-C still stops it
        train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=100, eval_every=0, progress=False))


def test_live_speaks_japanese():
    live = LiveTraining(mode="text", lang="ja")
    live.start(10)
    from shikumi.train import History

    h = History(step=[0], train_loss=[2.0])
    assert "ステップ 1/10" in live._status(0, live.t0 + 1, h) and "学習データの損失" in live._status(0, live.t0 + 1, h)


def test_a_bad_mode_is_one_clear_sentence():
    with pytest.raises(ValueError, match="choose 'auto', 'widgets' or 'text'"):
        LiveTraining(mode="fancy")


@pytest.mark.notebook
def test_live_training_runs_headless_under_papermill(tmp_path):
    """In a kernel (papermill), LiveTraining draws widgets; nothing crashes and the notebook stays small."""
    code = (
        "import torch\n"
        "from shikumi.gpt import GPT, GPTConfig\n"
        "from shikumi.live import LiveTraining\n"
        "from shikumi.train import TrainConfig, train\n"
        "torch.manual_seed(0)\n"
        "model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=1, d_model=8))\n"
        "x = torch.arange(8)[None] % 11\n"
        "loss_fn = lambda m, b: torch.nn.functional.cross_entropy(m(b[0]).flatten(0, 1), b[1].flatten())\n"
        "live = LiveTraining(sample_fn=lambda m: 'sample', every_s=0, plot_every_s=0, goal=1.0, lang='ja')\n"
        "history = train(model, lambda s: (x, (x + 1) % 11), loss_fn,\n"
        "                TrainConfig(max_steps=30, eval_every=10, eval_steps=1, progress=False), live=live)\n"
        "print('MODE', live.mode, 'STEPS', len(history.step), 'SAMPLES', len(live.samples))\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = tmp_path / "live.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, str(src))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lib'}:{ROOT}"}
    result = run_notebook(src, out, {}, cwd=tmp_path, timeout=300, cell_timeout=120, env=env)
    assert result.returncode == 0, result.stderr_tail
    executed = nbformat.read(str(out), as_version=4)
    outputs = executed.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "MODE widgets STEPS 30 SAMPLES 31" in text and "完了：30 ステップ" in text
    plain = [o["data"]["text/plain"] for o in outputs if "data" in o]
    assert plain and plain[0].startswith("完了：30 ステップ") and "sample" in plain[0]   # not "VBox(children=…)"
    assert len(json.dumps(executed.cells[0].outputs)) < 200_000   # redraws replace each other, they do not pile up


def test_the_grader_uses_the_shipped_checkpoints_and_the_notebook_tests_the_default_path():
    """A lesson whose default is to train its model here (MODEL = "train") is graded, and timed by `make bench`,
    with the shipped checkpoint, so grading does not grow. The notebook tests take the learner's default path,
    with the training stopped after a few seconds, so a regression in a lesson's training cell is caught."""
    from autograder.grade import GRADING_PARAMETERS
    from benchmarks.measure import DEFAULT_PARAMETERS
    from tests.test_notebooks import PARAMETERS

    assert GRADING_PARAMETERS["MODEL"] == DEFAULT_PARAMETERS["MODEL"] == "shipped"
    assert PARAMETERS["MODEL"] == "train" and 0 < PARAMETERS["TRAIN_SECONDS"] <= 10


def test_a_failing_step_still_releases_the_display():
    """LiveTraining patches the kernel's event handling for its Stop button: an error must give it back."""
    _, loss_fn = _copy_task()
    closed = []

    class Watch(LiveTraining):
        def close(self):
            closed.append(True)
            super().close()

    def broken(split):
        raise RuntimeError("a bad batch")

    with pytest.raises(RuntimeError, match="a bad batch"):
        train(_tiny_gpt(), broken, loss_fn, TrainConfig(max_steps=5, progress=False), live=Watch(mode="text"))
    assert closed == [True]


def test_the_adamw_path_is_the_loop_the_shipped_checkpoints_were_trained_with():
    """The shipped checkpoints' checksums depend on the loop's arithmetic: with optimizer="adamw" and no live
    display, train() must do exactly what a plain AdamW loop (warmup, cosine, clipping) does, bit for bit."""
    from shikumi.train import lr_at

    get_batch, loss_fn = _copy_task()
    cfg = TrainConfig(max_steps=12, lr=3e-3, warmup_steps=3, eval_every=0, eval_steps=1, progress=False)
    ours = _tiny_gpt()
    train(ours, get_batch, loss_fn, cfg)
    get_batch, loss_fn = _copy_task()
    ref = _tiny_gpt()
    decay = [p for p in ref.parameters() if p.dim() >= 2]
    rest = [p for p in ref.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=cfg.betas)
    for step in range(cfg.max_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = loss_fn(ref, get_batch("train"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), cfg.grad_clip)
        opt.step()
        if step == cfg.max_steps - 1:
            get_batch("val")                                 # the loop's final evaluation draws one batch
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), ref.state_dict().values()))


def test_lesson_04s_quick_recipe_is_the_shipped_checkpoints():
    """RECIPES["quick"] reproduces the shipped checkpoint (`shikumi train gpt_shakespeare`): the lesson's faster
    recipe is a new name, "live", and leaves "quick" as it was."""

    quick, live = gpt_shakespeare.RECIPES["quick"], gpt_shakespeare.RECIPES["live"]
    assert (quick.batch_size, quick.model.block_size, quick.train.max_steps, quick.train.lr,
            quick.train.optimizer) == (32, 128, 2000, 2e-3, "adamw")
    assert live.train.optimizer == "muon" and live.plays == quick.plays


def test_a_broken_sample_function_is_one_sentence_and_training_goes_on(capsys):
    get_batch, loss_fn = _copy_task()

    def broken(model):
        raise IndexError("list index out of range")

    history = train(_tiny_gpt(), get_batch, loss_fn, TrainConfig(max_steps=20, eval_every=0, eval_steps=1,
                                                                 progress=False),
                    live=LiveTraining(sample_fn=broken, every_s=0, mode="text", lang="en"))
    out = capsys.readouterr().out
    assert len(history.step) == 20 and out.count("the sample function failed (IndexError") == 1
    assert "Traceback" not in out


def test_a_sample_is_headed_with_the_step_the_progress_line_shows(capsys):
    """After 5 steps the bar says "step 5/5"; the sample shown then says step 5 too, not 4."""
    class History:
        step, train_loss, eval_loss = [0, 1, 2, 3, 4], [1.0] * 5, []

    live = LiveTraining(sample_fn=lambda model: "hello", mode="text", lang="en")
    live.start(total_steps=5)
    model = torch.nn.Linear(1, 1)
    live.end(model, History())
    assert "(step 5)" in capsys.readouterr().out

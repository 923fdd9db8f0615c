"""The one training loop and the one checkpoint format."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from shikumi import checkpoint
from shikumi.train import TrainConfig, lr_at, make_optimizer, train


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(max_steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)            # 1/10 of the way up
    assert lr_at(9, cfg) == pytest.approx(1e-3)            # the peak
    assert lr_at(55, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half-way down the cosine
    assert lr_at(100, cfg) == pytest.approx(1e-4)          # the floor
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_weight_decay_applies_to_matrices_only():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    groups = make_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups
    assert [len(g["params"]) for g in groups] == [1, 3] and [g["weight_decay"] for g in groups] == [0.1, 0.0]


class Line(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(1, 1)


def _regression():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * x - 0.5

    def get_batch(split):
        return x, y

    def loss_fn(model, batch):
        inputs, targets = batch
        return torch.nn.functional.mse_loss(model.w(inputs), targets)

    return get_batch, loss_fn


def test_training_fits_a_line_and_records_its_history():
    get_batch, loss_fn = _regression()
    model = Line()
    seen = []
    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=300, lr=0.1, warmup_steps=5, eval_every=100,
                                                           eval_steps=1, progress=False, weight_decay=0.0),
                    on_eval=lambda step, loss: seen.append(step))
    assert history.train_loss[-1] < 1e-3 < history.train_loss[0]
    assert history.eval_step == [100, 200, 299] == seen
    assert model.w.weight.item() == pytest.approx(3, abs=0.05) and not model.training


def test_max_seconds_stops_early_with_a_final_evaluation():
    get_batch, loss_fn = _regression()
    history = train(Line(), get_batch, loss_fn, TrainConfig(max_steps=10**6, max_seconds=0.5, progress=False,
                                                            eval_every=0, eval_steps=1))
    assert len(history.step) < 10**6 and history.eval_step == [history.step[-1]]


@dataclasses.dataclass
class TinyConfig:
    vocab: int = 7
    width: int = 4


class Tied(torch.nn.Module):
    def __init__(self, cfg: TinyConfig):
        super().__init__()
        self.embed = torch.nn.Embedding(cfg.vocab, cfg.width)
        self.head = torch.nn.Linear(cfg.width, cfg.vocab, bias=False)
        self.head.weight = self.embed.weight  # tied, as in GPT


def test_checkpoint_round_trip_with_tied_weights_and_checksum(tmp_path):
    model = Tied(TinyConfig())
    checkpoint.save(model, TinyConfig(), tmp_path / "tiny")
    digest = checkpoint.record_checksum("tiny", tmp_path)
    assert digest in (tmp_path / "SHA256SUMS").read_text()
    loaded = checkpoint.load(Tied, TinyConfig, tmp_path / "tiny.safetensors")
    assert torch.equal(loaded.embed.weight, model.embed.weight)
    assert loaded.head.weight is loaded.embed.weight  # still tied after loading
    assert checkpoint.verify("tiny", tmp_path).name == "tiny.safetensors"


def test_a_damaged_checkpoint_is_refused_with_a_clear_message(tmp_path):
    checkpoint.save(Tied(TinyConfig()), TinyConfig(), tmp_path / "tiny")
    checkpoint.record_checksum("tiny", tmp_path)
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(checkpoint.ChecksumError, match="damaged or was changed.*shikumi train tiny"):
        checkpoint.verify("tiny", tmp_path)
    with pytest.raises(FileNotFoundError, match="shikumi train nothing"):
        checkpoint.verify("nothing", tmp_path)


def test_every_shipped_checkpoint_matches_its_checksum():
    names = sorted(p.stem for p in checkpoint.SHIPPED.glob("*.safetensors"))
    for name in names:
        path = checkpoint.verify(name)
        assert path.stat().st_size <= 20 * 2**20, f"{name} is over the size limit"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bf16 autocast path)")
def test_training_on_cuda_with_bf16_autocast():
    get_batch, loss_fn = _regression()
    history = train(Line(), get_batch, loss_fn, TrainConfig(max_steps=200, lr=0.1, device="cuda", progress=False,
                                                            eval_steps=1, weight_decay=0.0))
    assert math.isfinite(history.train_loss[-1]) and history.train_loss[-1] < 0.05

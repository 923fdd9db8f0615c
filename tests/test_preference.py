"""shikumi.preference (lesson 10): the reward model's loss, the DPO loss — against the DPO paper's formula and against
TRL's DPOTrainer on the same log-probabilities — and DPO raising the held-out win rate of the fine-tuned GPT."""

from __future__ import annotations

import copy
import importlib.util
import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from shikumi import chatdata, finetune, preference
from shikumi.train import TrainConfig
from shikumi.zoo import gpt_chat


def random_logps(seed: int, n: int = 16) -> list[torch.Tensor]:
    """Four (n,) tensors of sequence log-probabilities: policy chosen, policy rejected, ref chosen, ref rejected."""
    g = torch.Generator().manual_seed(seed)
    return [-(torch.rand(n, generator=g, dtype=torch.float64) * 60 + 1) for _ in range(4)]


# -- the losses, against their formulas ----------------------------------------------------------------------

@pytest.mark.parametrize("beta", [0.01, 0.1, 0.5, 2.0])
@pytest.mark.parametrize("seed", range(3))
def test_dpo_loss_is_the_papers_formula(beta, seed):
    """Rafailov et al. 2023, eq. 7: L = -E[log σ(β log π(y_w|x)/π_ref(y_w|x) - β log π(y_l|x)/π_ref(y_l|x))],
    written here with plain math, one pair at a time."""
    pc, pr, rc, rr = random_logps(seed)
    want = 0.0
    for i in range(len(pc)):
        z = beta * (pc[i].item() - rc[i].item()) - beta * (pr[i].item() - rr[i].item())
        want += math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))   # -log σ(z), stable
    want /= len(pc)
    assert abs(preference.dpo_loss(pc, pr, rc, rr, beta).item() - want) < 1e-6


def test_reward_model_loss_is_bradley_terry():
    """-log P(chosen preferred), P = e^r_w / (e^r_w + e^r_l); finite for a margin of ±200 in float32."""
    rw, rl = torch.tensor([3.0, -1.0, 0.5]), torch.tensor([1.0, 2.0, 0.5])
    p = torch.exp(rw) / (torch.exp(rw) + torch.exp(rl))
    torch.testing.assert_close(preference.reward_model_loss(rw, rl), -p.log().mean())
    assert preference.reward_model_loss(torch.tensor([0.0]), torch.tensor([200.0])).item() == pytest.approx(200.0)
    assert preference.reward_model_loss(torch.tensor([200.0]), torch.tensor([0.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_dpo_starts_at_log_2_and_pushes_the_right_way():
    pc, pr, rc, rr = random_logps(7)
    assert preference.dpo_loss(rc, rr, rc, rr, 0.1).item() == pytest.approx(math.log(2))
    pc, pr = pc.clone().requires_grad_(), pr.clone().requires_grad_()
    preference.dpo_loss(pc, pr, rc, rr, 0.1).backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()     # descent raises the chosen answer, lowers the rejected one
    torch.testing.assert_close(preference.implicit_reward(pc.detach(), rc, 0.1), 0.1 * (pc.detach() - rc))


# -- against TRL ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trl_dpo():
    """TRL's DPOTrainer loss on given sequence log-probabilities. TRL (>= 1.0) computes it inside
    DPOTrainer._compute_loss from a model's per-token log-probabilities; we hand it a stand-in model whose single
    completion token carries each whole answer's log-probability, and the reference's, precomputed."""
    if importlib.util.find_spec("trl") is None:
        pytest.skip("trl is not installed (pip install -e '.[test]')")
    from trl.trainer.dpo_trainer import DPOTrainer

    if not hasattr(DPOTrainer, "_compute_loss"):
        pytest.skip("this TRL keeps its DPO loss elsewhere (tested with trl 1.16)")

    class Accelerator:
        device = torch.device("cpu")
        gather_for_metrics = gather = staticmethod(lambda t: t)

    def loss(pc, pr, rc, rr, beta):
        n = len(pc)
        logps = torch.cat([pc, pr]).float()[:, None]                   # (2n, 1): chosen first, then rejected
        outputs = SimpleNamespace(log_probs=logps, entropy=torch.zeros(2 * n, 1), mean_logits=torch.zeros(2 * n, 1),
                                  is_top1=torch.zeros(2 * n, 1, dtype=torch.bool))
        model = SimpleNamespace(training=True)
        trainer = SimpleNamespace(
            model=model, accelerator=Accelerator(), aux_loss_enabled=False, ld_alpha=None, precompute_ref_logps=True,
            f_divergence_type="reverse_kl", loss_types=["sigmoid"], loss_weights=[1.0], beta=beta,
            label_smoothing=0.0, use_weighting=False, _metrics=defaultdict(lambda: defaultdict(list)),
            _total_train_tokens=0, _tp_size=1)
        inputs = {"input_ids": torch.zeros(2 * n, 2, dtype=torch.long), "attention_mask": torch.ones(2 * n, 2),
                  "completion_mask": torch.tensor([[0, 1]] * (2 * n)),
                  "ref_chosen_logps": rc.float(), "ref_rejected_logps": rr.float()}
        return DPOTrainer._compute_loss(trainer, lambda **kwargs: outputs, inputs, False)

    return loss


@pytest.mark.parametrize("beta", [0.1, 0.5])
@pytest.mark.parametrize("seed", range(3))
def test_dpo_loss_matches_trl(trl_dpo, beta, seed):
    pc, pr, rc, rr = (t.float() for t in random_logps(seed))
    theirs = trl_dpo(pc, pr, rc, rr, beta)
    ours = preference.dpo_loss(pc, pr, rc, rr, beta)
    assert abs(ours.item() - theirs.item()) < 1e-6, (ours.item(), theirs.item())


# -- the reward model and DPO on the GPT ---------------------------------------------------------------------

def test_the_bag_of_words_reward_model_learns_the_labelers_taste():
    cfg = TrainConfig(max_steps=100, lr=0.1, warmup_steps=1, eval_every=0, eval_steps=1, weight_decay=0.0,
                      device="cpu", progress=False)
    model, history = preference.train_reward_model(chatdata.preference_pairs(300, "train"),
                                                   chatdata.preference_pairs(50, "heldout"), cfg)
    assert history.train_loss[-1] < history.train_loss[0] / 4
    assert preference.reward_accuracy(model, chatdata.preference_pairs(200, "heldout", seed=1)) > 0.95
    words = model.words()
    assert all(words[w] < 0 for w in ("rogue", "knave", "villain")) and words["service"] > 0


@pytest.fixture(scope="module")
def sft():
    return gpt_chat.load_gpt_chat(gpt_chat.SFT_NAME)


def test_a_short_dpo_raises_the_held_out_win_rate(sft):
    model, tok = sft
    model = copy.deepcopy(model)
    pairs = chatdata.preference_pairs(100, "heldout", seed=3)
    before = preference.win_rate(model, tok, pairs)
    cfg = TrainConfig(max_steps=25, lr=2e-5, warmup_steps=2, eval_every=0, eval_steps=1, weight_decay=0.0,
                      device="cpu", cpu_threads=1, progress=False)
    history = preference.finetune_dpo(model, tok, chatdata.preference_pairs(400, "train"),
                                      chatdata.preference_pairs(16, "heldout"), cfg, beta=0.1, batch_size=16)
    after = preference.win_rate(model, tok, pairs)
    print(f"held-out win rate: {before:.0%} → {after:.0%}; DPO loss {history.train_loss[0]:.3f} → "
          f"{history.train_loss[-1]:.3f}")
    assert history.train_loss[0] == pytest.approx(math.log(2), abs=1e-4)   # the policy starts as the reference
    assert after >= before + 0.1


def test_shipped_dpo_wins_where_sft_tosses_a_coin(sft):
    model, tok = sft
    dpo, _ = gpt_chat.load_gpt_chat(gpt_chat.DPO_NAME)
    pairs = chatdata.preference_pairs(200, "heldout", seed=1)
    before, after = preference.win_rate(model, tok, pairs), preference.win_rate(dpo, tok, pairs)
    held = chatdata.instructions(32, "heldout", seed=7)
    kept = finetune.score(dpo, tok, held)
    print(f"held-out win rate: SFT {before:.0%}, DPO {after:.0%}; DPO's answers right {kept.correct:.0%}")
    assert 0.3 < before < 0.7 and after > 0.9
    assert kept.correct >= 0.75 and kept.polite >= 0.9     # the skills survive, the rudeness does not

"""Lesson 07: the schedulers match diffusers, the UNet is a UNet, the shipped denoiser denoises, the checks grade.

diffusers is the reference (a test-only dependency): betas and ᾱ, add_noise, set_timesteps, and one step of
DDPM (with noise from the same generator) and DDIM (η = 0, and η > 0 with the same generator), for both beta
schedules, to 1e-5.
"""

from __future__ import annotations

import random

import pytest
import torch

from autograder.checks import Case, for_lesson
from shikumi import checkpoint, diffusion, zoo
from shikumi.lang import speaking
from shikumi.unet import UNet, UNetConfig
from shikumi.zoo import unet_digits

CHECKS = for_lesson("07_diffusion")

diffusers = pytest.importorskip("diffusers", reason="diffusers is the reference for the schedulers")

SCHEDULES = ["linear", "squaredcos_cap_v2"]
TOL = 1e-5


def pair(kind: str, **config):
    ours = {"ddpm": diffusion.DDPMScheduler, "ddim": diffusion.DDIMScheduler}[kind](**config)
    theirs = {"ddpm": diffusers.DDPMScheduler, "ddim": diffusers.DDIMScheduler}[kind](**config)
    return ours, theirs


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


# -- the schedules and the forward process --------------------------------------------------------------

@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_betas_and_alphas_cumprod_match_diffusers(kind, schedule):
    ours, theirs = pair(kind, beta_schedule=schedule, beta_start=2e-4, beta_end=0.03)
    assert max_error(ours.betas, theirs.betas) <= TOL
    assert max_error(ours.alphas_cumprod, theirs.alphas_cumprod) <= TOL
    assert torch.equal(ours.timesteps, theirs.timesteps)   # before set_timesteps: T−1 … 0


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_add_noise_matches_diffusers(schedule):
    ours, theirs = pair("ddpm", beta_schedule=schedule)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(6, 3, 8, 8, generator=g) * 2 - 1, torch.randn(6, 3, 8, 8, generator=g)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    assert max_error(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t)) <= TOL


def test_add_noise_is_the_closed_form():
    """q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I): the empirical mean and variance of many noisings."""
    s = diffusion.DDPMScheduler()
    x0 = torch.full((20000, 1), 0.7)
    t = torch.full((20000,), 300)
    x_t = s.add_noise(x0, torch.randn(20000, 1, generator=torch.Generator().manual_seed(1)), t)
    abar = s.alphas_cumprod[300].item()
    assert x_t.mean().item() == pytest.approx(abar ** 0.5 * 0.7, abs=0.02)
    assert x_t.var().item() == pytest.approx(1 - abar, abs=0.02)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_set_timesteps_matches_diffusers(kind, spacing):
    for n in (1, 3, 7, 10, 20, 50, 333, 1000):
        ours, theirs = pair(kind, timestep_spacing=spacing, steps_offset=1 if spacing == "leading" else 0)
        ours.set_timesteps(n)
        theirs.set_timesteps(n)
        assert torch.equal(ours.timesteps, theirs.timesteps), (n, ours.timesteps[:5], theirs.timesteps[:5])


# -- the reverse process: one step --------------------------------------------------------------------------

def _inputs(seed=0, shape=(2, 3, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)  # x_t, model output


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
@pytest.mark.parametrize("clip_sample", [True, False])
def test_ddpm_step_matches_diffusers_with_the_same_generator(schedule, prediction_type, clip_sample):
    for steps in (None, 50):           # every one of the 1000 steps, and a strided 50-step schedule
        for variance_type in ("fixed_small", "fixed_large"):
            ours, theirs = pair("ddpm", beta_schedule=schedule, prediction_type=prediction_type,
                                clip_sample=clip_sample, variance_type=variance_type)
            if steps:
                ours.set_timesteps(steps)
                theirs.set_timesteps(steps)
            for t in [ours.timesteps[0], ours.timesteps[len(ours.timesteps) // 2], ours.timesteps[-2], 0]:
                sample, model_output = _inputs(int(t))
                a = ours.step(model_output, t, sample, generator=torch.Generator().manual_seed(7))
                b = theirs.step(model_output, t, sample, generator=torch.Generator().manual_seed(7))
                assert max_error(a.prev_sample, b.prev_sample) <= TOL, (t, steps, variance_type)
                assert max_error(a.pred_original_sample, b.pred_original_sample) <= TOL


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_ddpm_step_with_explicit_noise_is_mean_plus_sigma_z(schedule):
    """Passing z explicitly gives the same as the generator that would draw it; z = 0 gives the mean μ."""
    ours, theirs = pair("ddpm", beta_schedule=schedule, clip_sample=False)
    sample, model_output = _inputs(3)
    z = torch.randn(sample.shape, generator=torch.Generator().manual_seed(11))
    a = ours.step(model_output, 500, sample, variance_noise=z)
    b = theirs.step(model_output, 500, sample, generator=torch.Generator().manual_seed(11))
    assert max_error(a.prev_sample, b.prev_sample) <= TOL
    mean = ours.step(model_output, 500, sample, variance_noise=torch.zeros_like(z)).prev_sample
    sigma = ((a.prev_sample - mean) / z).flatten()
    assert torch.allclose(sigma, sigma[0].expand_as(sigma), atol=1e-4) and sigma[0] > 0


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("clip_sample", [True, False])
@pytest.mark.parametrize("set_alpha_to_one", [True, False])
def test_ddim_step_matches_diffusers(schedule, clip_sample, set_alpha_to_one):
    for spacing in ("leading", "trailing"):
        ours, theirs = pair("ddim", beta_schedule=schedule, clip_sample=clip_sample,
                            set_alpha_to_one=set_alpha_to_one, timestep_spacing=spacing)
        ours.set_timesteps(20)
        theirs.set_timesteps(20)
        for t in ours.timesteps[[0, 5, 10, -1]]:
            sample, model_output = _inputs(int(t))
            a, b = ours.step(model_output, t, sample), theirs.step(model_output, t, sample)   # η = 0
            assert max_error(a.prev_sample, b.prev_sample) <= TOL, (t, spacing)
            assert max_error(a.pred_original_sample, b.pred_original_sample) <= TOL
            a = ours.step(model_output, t, sample, eta=0.5, generator=torch.Generator().manual_seed(5))
            b = theirs.step(model_output, t, sample, eta=0.5, generator=torch.Generator().manual_seed(5))
            assert max_error(a.prev_sample, b.prev_sample) <= TOL


class _FakeModel(torch.nn.Module):
    """A fixed "noise predictor": a random 3×3 convolution and a dependence on t, so every step differs."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x, t, context=None):
        return torch.tanh(self.conv(x)) * (1 + torch.as_tensor(t).float() / 1000)


@pytest.mark.parametrize("kind, steps", [("ddim", 25), ("ddpm", 40)])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_whole_sampling_loop_matches_diffusers(kind, steps, schedule):
    """The same loop with our scheduler and with diffusers', the same model and the same generator."""
    model = _FakeModel().eval()
    ours, theirs = pair(kind, beta_schedule=schedule)
    x_ours = diffusion.sample(model, ours, (2, 1, 8, 8), steps, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, 1, 8, 8), generator=g)
    theirs.set_timesteps(steps)
    with torch.no_grad():
        for t in theirs.timesteps:
            x = theirs.step(model(x, t), t, x, generator=g).prev_sample
    assert max_error(x_ours, x) <= 1e-4


def test_sample_keeps_the_steps_it_is_asked_for():
    model = _FakeModel().eval()
    x, kept = diffusion.sample(model, diffusion.DDIMScheduler(), (3, 1, 8, 8), 10,
                               generator=torch.Generator().manual_seed(0), keep=4)
    assert x.shape == (3, 1, 8, 8)
    assert [t for t, _, _ in kept] == [900, 600, 300, 0]
    assert all(x_t.shape == x0.shape == (3, 1, 8, 8) for _, x_t, x0 in kept)


def test_scheduler_rejects_unknown_settings():
    with pytest.raises(ValueError, match="beta_schedule"):
        diffusion.DDPMScheduler(beta_schedule="quadratic")
    with pytest.raises(ValueError, match="num_inference_steps"):
        diffusion.DDIMScheduler().set_timesteps(2000)
    with pytest.raises(ValueError, match="set_timesteps"):
        diffusion.DDIMScheduler().step(torch.zeros(1), 10, torch.zeros(1))


# -- the UNet ---------------------------------------------------------------------------------------------

def test_unet_shapes_and_timestep_forms():
    model = UNet(UNetConfig.preset("tiny")).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        out = model(x, torch.tensor([1, 500, 999]))
        assert out.shape == x.shape
        same = model(x, 500)                                  # an int t applies to the whole batch
        assert torch.allclose(same, model(x, torch.tensor([500, 500, 500])), atol=1e-6)
        assert not torch.allclose(model(x, 10), model(x, 900), atol=1e-4)  # t matters
    wide = UNet(UNetConfig.preset("tiny", in_channels=4, out_channels=4, sample_size=8)).eval()
    assert wide(torch.randn(2, 4, 8, 8), 3).shape == (2, 4, 8, 8)


def test_unet_skip_connections_carry_the_detail():
    """Each up level reads the down path's features at the same resolution: concatenated channels."""
    cfg = UNetConfig.preset("tiny")
    model = UNet(cfg)
    c0, c1 = cfg.block_out_channels
    assert model.up[0].res[0].conv1.in_channels == c1 + c1      # bottom level: middle + skip
    assert model.up[1].res[0].conv1.in_channels == c0 + c0      # top level: upsampled + skip
    assert all(hasattr(r, "time_proj") for level in [*model.down, model.mid, *model.up] for r in level.res)


def test_unet_cross_attention_reads_the_context_and_respects_its_mask():
    torch.manual_seed(0)
    model = UNet(UNetConfig.preset("tiny", cross_attention_dim=12)).eval()
    x, ctx = torch.randn(2, 1, 28, 28), torch.randn(2, 5, 12)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    with torch.no_grad():
        base = model(x, 100, context=ctx, context_mask=mask)
        assert not torch.allclose(base, model(x, 100, context=torch.randn(2, 5, 12), context_mask=mask), atol=1e-5)
        padded = ctx.clone()
        padded[0, 3:] = 100.0                                  # change only sample 0's masked tokens
        assert torch.allclose(base, model(x, 100, context=padded, context_mask=mask), atol=1e-5)
        no_text = model(x, 100)                                # context=None skips cross-attention
    assert no_text.shape == x.shape
    # the same config without cross-attention has no cross-attention weights at all
    plain = UNet(UNetConfig.preset("tiny"))
    assert not any("cross_attn" in k for k in plain.state_dict())
    assert any("cross_attn.k_proj" in k for k in model.state_dict())


def test_unet_config_round_trips_through_a_checkpoint(tmp_path):
    cfg = UNetConfig.preset("tiny", cross_attention_dim=8)
    model = UNet(cfg)
    checkpoint.save(model, cfg, tmp_path / "u")
    again = checkpoint.load(UNet, UNetConfig, tmp_path / "u.safetensors")
    assert again.config == cfg
    x, ctx = torch.randn(1, 1, 28, 28), torch.randn(1, 3, 8)
    with torch.no_grad():
        assert torch.equal(model.eval()(x, 5, ctx), again(x, 5, ctx))


def test_unet_is_about_as_big_as_a_comparable_diffusers_unet():
    """Parameter counts within a factor of 2 of diffusers' UNet2DModel with the same widths (the benchmark's pair)."""
    cfg = UNetConfig.preset("quick")
    ours = UNet(cfg)
    theirs = diffusers.UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=1,
                                   block_out_channels=cfg.block_out_channels, norm_num_groups=cfg.norm_num_groups,
                                   down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                                   up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"))
    n_ours, n_theirs = ours.num_parameters(), sum(p.numel() for p in theirs.parameters())
    assert 0.5 < n_ours / n_theirs < 2, (n_ours, n_theirs)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert theirs(x, 10).sample.shape == ours(x, 10).shape


# -- the shipped denoiser ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    try:
        model, schedule = unet_digits.load_unet_digits()
    except FileNotFoundError:
        pytest.skip("no shipped unet_digits checkpoint yet (run `shikumi train unet_digits`)")
    return model, schedule


def test_shipped_unet_predicts_the_noise_far_better_than_guessing(shipped):
    """On held-out digits, at every noise level, MSE(ε̂, ε) is far below 1 (the loss of predicting 0)."""
    model, schedule = shipped
    s = diffusion.DDPMScheduler(**schedule)
    x0 = unet_digits.digits_for_diffusion("val")[:64]
    g = torch.Generator().manual_seed(0)
    losses = {}
    with torch.no_grad():
        for t in (50, 300, 600, 900):
            noise = torch.randn(x0.shape, generator=g)
            x_t = s.add_noise(x0, noise, torch.full((len(x0),), t))
            losses[t] = torch.nn.functional.mse_loss(model(x_t, t), noise).item()
    assert max(losses.values()) < 0.5, losses
    assert sum(losses.values()) / len(losses) < 0.2, losses


def test_shipped_unet_samples_look_like_digits_not_noise(shipped):
    """DDIM samples: mostly dark background, a few bright strokes — the pixel statistics of the real digits."""
    model, schedule = shipped
    x = diffusion.sample(model, diffusion.DDIMScheduler(**schedule), (16, 1, 28, 28), 20,
                         generator=torch.Generator().manual_seed(0))
    real = unet_digits.digits_for_diffusion("val")
    dark = lambda im: (im < -0.8).float().mean().item()      # noqa: E731
    bright = lambda im: (im > 0.5).float().mean().item()     # noqa: E731
    assert abs(dark(x) - dark(real)) < 0.15, (dark(x), dark(real))
    assert abs(bright(x) - bright(real)) < 0.08, (bright(x), bright(real))
    noise = torch.randn(16, 1, 28, 28).clamp(-1, 1)
    assert abs(dark(noise) - dark(real)) > 0.3                 # pure noise would fail this test


def test_recipe_trains_saves_and_loads(tmp_path):
    path = unet_digits.train_unet_digits(tmp_path, size="tiny", device="cpu", max_steps=2, progress=False)
    assert path.exists() and (tmp_path / "unet_digits.scheduler.json").exists()
    model, schedule = unet_digits.load_unet_digits(directory=tmp_path)
    assert schedule["beta_schedule"] == "squaredcos_cap_v2"
    assert zoo.history("unet_digits", tmp_path)["steps"] == 2
    assert model(torch.zeros(1, 1, 28, 28), 3).shape == (1, 1, 28, 28)



def test_the_lessons_recipe_trains_the_quick_unet_with_a_live_display(tmp_path):
    """size="live" (lesson 07's MODEL="train"): the quick UNet, zoo's LIVE batch, a sample of digits shown to the
    LiveTraining display; the shipped recipe ("quick") keeps its batch of 64."""
    from shikumi.live import LiveTraining

    watch = LiveTraining(sample_fn=unet_digits.sampler(n=3, num_inference_steps=2), every_s=0, mode="text")
    unet_digits.train_unet_digits(tmp_path, size="live", device="cpu", max_steps=2, progress=False, live=watch)
    model, _ = unet_digits.load_unet_digits(directory=tmp_path)
    assert model.config == UNetConfig.preset("quick", sample_size=28)
    history = zoo.history("unet_digits", tmp_path)
    assert history["steps"] == 2 and history["batch_size"] == unet_digits.LIVE["batch_size"] < 64
    pictures = watch.samples[-1][2]
    assert pictures.shape == (3, 1, 28, 28) and 0 <= pictures.min() and pictures.max() <= 1
    again = unet_digits.sampler(n=3, num_inference_steps=2)(model)
    assert torch.equal(again, unet_digits.sampler(n=3, num_inference_steps=2)(model))  # the same noise every time
    unet_digits.train_unet_digits(tmp_path, size="quick", device="cpu", max_steps=1, progress=False)
    assert zoo.history("unet_digits", tmp_path)["batch_size"] == 64


# -- the judge of samples -------------------------------------------------------------------------------------

def test_the_judge_is_a_shipped_checkpoint_loaded_once_with_its_checksum_verified(monkeypatch):
    assert zoo.RECIPES["digit_judge"] == "shikumi.zoo.unet_digits:train_digit_judge"
    assert checkpoint.verify("digit_judge").stat().st_size < 2**20           # the SHA-256 matches SHA256SUMS
    verified, verify = [], checkpoint.verify
    monkeypatch.setattr(checkpoint, "verify", lambda name, *a: verified.append(name) or verify(name, *a))
    unet_digits.load_digit_judge()
    assert verified == ["digit_judge"]                                      # checked before it is loaded
    judge = unet_digits.digit_judge()
    assert judge is unet_digits.digit_judge()                               # once per process
    assert not judge.training and not any(p.requires_grad for p in judge.parameters())


def test_the_judges_recipe_trains_through_the_one_training_loop(tmp_path, monkeypatch):
    """train_digit_judge (`shikumi train digit_judge`) in 3 steps: shikumi.train.train does the training, on batches
    of 64 shifted digits and 16 not_digits pictures; the judge, its history and its figures are saved."""
    import shikumi.train

    calls = []

    def spy(model, get_batch, loss_fn, cfg, **kwargs):
        calls.append(get_batch("train"))
        return real_train(model, get_batch, loss_fn, cfg, **kwargs)

    real_train = shikumi.train.train
    monkeypatch.setattr(shikumi.train, "train", spy)
    path = unet_digits.train_digit_judge(tmp_path, device="cpu", max_steps=3, progress=False)
    assert path == tmp_path / "digit_judge.safetensors" and len(calls) == 1
    pictures, labels = calls[0]
    assert pictures.shape == (80, 1, 28, 28) and labels.shape == (80,)
    assert labels[:64].max() < unet_digits.NOT_A_DIGIT and (labels[64:] == unet_digits.NOT_A_DIGIT).all()
    history = zoo.history("digit_judge", tmp_path)
    assert history["steps"] == 3 and history["parameters"] == 105_931
    assert 0 <= history["heldout_named_right"] <= 1 and "noise_read_as_digits" in history
    judge = unet_digits.load_digit_judge(tmp_path)
    assert judge(torch.zeros(2, 1, 28, 28)).shape == (2, 11) and not judge.training


def test_the_judge_reads_real_digits_and_refuses_noise_and_smudges():
    """recognised(): held-out real digits count as digits, pure noise and not_digits pictures do not; and the
    shipped judge names the held-out digits right."""
    real = unet_digits.digits_for_diffusion("val")
    assert unet_digits.recognised(real)["share"] > 0.95
    noise = torch.randn(200, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    assert unet_digits.recognised(noise)["share"] < 0.1
    fakes = unet_digits.not_digits(real[:200], torch.Generator().manual_seed(2))
    assert unet_digits.recognised(fakes)["share"] < 0.1
    named = unet_digits.digit_judge()(real).argmax(1)
    assert (named == unet_digits.digit_labels("val")).float().mean() > 0.95


def test_the_judge_reads_the_shipped_unets_samples_as_digits_of_every_kind(shipped):
    model, schedule = shipped
    x = diffusion.sample(model, diffusion.DDIMScheduler(**schedule), (100, 1, 28, 28), 20,
                         generator=torch.Generator().manual_seed(1))
    verdict = unet_digits.recognised(x)
    assert verdict["share"] >= 0.8 and sum(c > 0 for c in verdict["counts"]) >= 9, verdict
    untrained = UNet(model.config).eval()          # sampled as the benchmark samples: DDIM, 20 steps
    x = diffusion.sample(untrained, diffusion.DDIMScheduler(**schedule), (50, 1, 28, 28), 20,
                         generator=torch.Generator().manual_seed(1))
    assert unet_digits.recognised(x)["share"] < 0.1

# -- the hidden checks ----------------------------------------------------------------------------------------

def _reference(gid: str, case: Case):
    """The library's answer to a check case (the grader computes its own in float64; they must agree)."""
    if gid == "compute_alphas_cumprod":
        return torch.cumprod(1 - case.args[0], 0)                     # as NoiseScheduler.__init__ does
    if gid == "ddim_step":  # a 2-step DDIM whose only jump is t → t_prev: ᾱ = [ᾱ_prev, ᾱ_t]
        x_t, eps, t, t_prev, ac = case.args
        d = diffusion.DDIMScheduler(num_train_timesteps=2, clip_sample=False)
        d.set_timesteps(2)
        d.alphas_cumprod = torch.stack([ac[t_prev], ac[t]]) if t_prev >= 0 else torch.stack([ac[t], ac[t]])
        return d.step(eps, 1 if t_prev >= 0 else 0, x_t).prev_sample
    ac = case.args[3]
    s = diffusion.DDPMScheduler(num_train_timesteps=len(ac), clip_sample=False)
    s.alphas_cumprod = ac
    if gid == "add_noise":
        x0, noise, t, _ = case.args
        return s.add_noise(x0, noise, t)
    if gid == "predict_x0":
        x_t, eps, t, _ = case.args
        return s.predict_original(eps, ac[t], x_t)[0]
    x_t, eps, t, _, z = case.args                                   # ddpm_step
    return s.step(eps, t, x_t, variance_noise=z).prev_sample


@pytest.mark.parametrize("gid", list(CHECKS))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_library_answers_pass_every_check(gid, seed):
    check = CHECKS[gid]
    cases = check.cases(random.Random(seed))
    assert len(cases) >= 4
    for case in cases:
        assert check.verify(case, _reference(gid, case)) is None, check.verify(case, _reference(gid, case))


def test_case_structure_is_fixed():
    """Partial credit is a fraction of the cases: their number and kind must not depend on the seed."""
    for gid, check in CHECKS.items():
        runs = [check.cases(random.Random(seed)) for seed in (0, 99)]
        assert [c.edge for c in runs[0]] == [c.edge for c in runs[1]], gid
        assert [len(c.args) for c in runs[0]] == [len(c.args) for c in runs[1]], gid


def _verify_all(gid, answer, seed=0):
    check = CHECKS[gid]
    return [check.verify(case, answer(*case.args)) for case in check.cases(random.Random(seed))]


def test_cumprod_hints():
    msgs = _verify_all("compute_alphas_cumprod", lambda b: torch.cumprod(b, 0))
    assert all(m and "1 − β" in m for m in msgs)
    msgs = _verify_all("compute_alphas_cumprod", lambda b: 1 - b)
    assert any(m and "torch.cumprod" in m for m in msgs)
    msgs = _verify_all("compute_alphas_cumprod", lambda b: torch.cat([torch.ones(1), torch.cumprod(1 - b, 0)[:-1]]))
    assert all(m and "Shifted" in m for m in msgs)
    assert all(m is None for m in _verify_all("compute_alphas_cumprod", lambda b: torch.cumprod(1 - b, 0)))


def test_add_noise_hints():
    def view(a, x):
        return a.view(-1, *[1] * (x.dim() - 1))

    def no_sqrt(x0, e, t, ac):
        a = view(ac[t], x0)
        return a * x0 + (1 - a) * e

    def swapped(x0, e, t, ac):
        a = view(ac[t], x0)
        return (1 - a).sqrt() * x0 + a.sqrt() * e

    def good(x0, e, t, ac):
        a = view(ac[t], x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * e

    def image_root_only(x0, e, t, ac):        # issue 13: 「最大 0.158 ずれています」 and nothing else
        a = view(ac[t], x0)
        return a * x0 + (1 - a).sqrt() * e

    def noise_root_only(x0, e, t, ac):
        a = view(ac[t], x0)
        return a.sqrt() * x0 + (1 - a) * e

    def slightly_off(x0, e, t, ac):
        return 1.01 * good(x0, e, t, ac)

    assert all("square roots" in m for m in _verify_all("add_noise", no_sqrt))
    assert all("square root on the image" in m for m in _verify_all("add_noise", image_root_only)[:3])
    assert all("square root on the noise" in m for m in _verify_all("add_noise", noise_root_only)[:3])
    assert all("Compare with x_t = √ᾱ_t · x0" in m and "alphas_cumprod[t] =" in m
               for m in _verify_all("add_noise", slightly_off))
    assert all("swapped" in m for m in _verify_all("add_noise", swapped))
    assert all(m is None for m in _verify_all("add_noise", good))
    wrong_shape = _verify_all("add_noise", lambda x0, e, t, ac: good(x0, e, t, ac)[0])
    assert all("shape" in m for m in wrong_shape)


def test_a_forgotten_root_is_named_in_japanese_too():
    def image_root_only(x0, e, t, ac):
        a = ac[t].view(-1, *[1] * (x0.dim() - 1))
        return a * x0 + (1 - a).sqrt() * e

    with speaking("ja"):
        messages = _verify_all("add_noise", image_root_only)[:3]
    assert all("画像の平方根を忘れています" in m and "最大" in m for m in messages), messages


def _abar_prev_wrapping(ac, t):
    return ac[t - 1]  # the classic bug: at t = 0 this reads ac[-1]


def test_ddpm_and_ddim_hints():
    def ddpm(x, e, t, ac, z, noise=True, wrap=False):
        a_t = ac[t]
        a_prev = _abar_prev_wrapping(ac, t) if wrap else (ac[t - 1] if t > 0 else torch.tensor(1.0))
        alpha = a_t / a_prev
        beta = 1 - alpha
        mean = (x - beta / (1 - a_t).sqrt() * e) / alpha.sqrt()
        var = (1 - a_prev) / (1 - a_t) * beta
        return mean + var.sqrt() * z if noise else mean

    msgs = _verify_all("ddpm_step", lambda *a: ddpm(*a, noise=False))
    assert sum("σ_t · z" in (m or "") for m in msgs) == 3 and msgs[3] is None   # t = 0: μ alone is right
    msgs = _verify_all("ddpm_step", lambda *a: ddpm(*a, wrap=True))
    assert msgs[:3] == [None] * 3 and "LAST entry" in msgs[3]
    assert all(m is None for m in _verify_all("ddpm_step", ddpm))

    def ddim(x, e, t, t_prev, ac, wrap=False):
        a_t = ac[t]
        a_prev = ac[t_prev] if (t_prev >= 0 or wrap) else torch.tensor(1.0)
        x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e

    assert all(m is None for m in _verify_all("ddim_step", ddim))
    msgs = _verify_all("ddim_step", lambda *a: ddim(*a, wrap=True))
    assert msgs[:3] == [None] * 3 and "LAST entry" in msgs[3]
    msgs = _verify_all("ddim_step", lambda x, e, t, t_prev, ac: ddim(x, e, t, t - 1, ac))
    assert "Jump to t_prev" in msgs[0]


def test_predict_x0_hints():
    def good(x, e, t, ac):
        return (x - (1 - ac[t]).sqrt() * e) / ac[t].sqrt()

    assert all(m is None for m in _verify_all("predict_x0", good))
    msgs = _verify_all("predict_x0", lambda x, e, t, ac: x - (1 - ac[t]).sqrt() * e)
    assert all("Divide by √ᾱ_t" in m for m in msgs[:3])
    msgs = _verify_all("predict_x0", lambda x, e, t, ac: (x + (1 - ac[t]).sqrt() * e) / ac[t].sqrt())
    assert all("Sign" in m for m in msgs[:3])

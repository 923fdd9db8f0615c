"""shikumi.autoencoder (lesson 05, reused by lesson 08) and the hidden checks of lesson 05.

The geometry is checked against diffusers' AutoencoderKL and nn.Conv2d, the distribution against diffusers'
DiagonalGaussianDistribution and torch.distributions; the shipped VAEs against their promises (reconstructions far
better than a baseline, also for colour × shape pairs never seen in training; unit-variance scaled latents); the
checks module against the right answers (full marks) and the classic mistakes (their specific hint).
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F

from autograder.checks import for_lesson
from autograder.checks import l05_autoencoder as l05
from shikumi import autoencoder, data, zoo
from shikumi.autoencoder import VAE, Autoencoder, AutoencoderConfig, DiagonalGaussian
from shikumi.lang import speaking
from shikumi.zoo import vae as zoo_vae
from tests.conftest import round_trip, solution_answers

CHECKS = for_lesson("05_autoencoder")

SEEDS = range(6)


# -- the models -----------------------------------------------------------------------------------

@pytest.mark.parametrize("preset, latent, ratio", [("digits", (16,), 49.0), ("digits-full", (16,), 49.0),
                                                   ("shapes", (4, 4, 4), 48.0), ("shapes-full", (4, 4, 4), 48.0)])
def test_presets_have_the_promised_geometry(preset, latent, ratio):
    config = AutoencoderConfig.preset(preset)
    assert config.latent_shape == latent
    assert autoencoder.compression_ratio(config.image_shape, config.latent_shape) == ratio
    x = torch.rand(2, *config.image_shape)
    for cls in (Autoencoder, VAE):
        model = cls(config).eval()
        with torch.no_grad():
            z = model.encode(x) if cls is Autoencoder else model.encode(x).latent_dist.sample()
            assert tuple(z.shape) == (2, *latent)
            assert model.decode(z).shape == x.shape


def test_shapes_vae_has_stable_diffusions_geometry():
    """f = 8 and 4 latent channels: diffusers' AutoencoderKL with as many blocks gives the same latent shape."""
    from diffusers import AutoencoderKL

    config = AutoencoderConfig.preset("shapes")
    assert config.downsample_factor == 8 and config.latent_channels == 4
    reference = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
                              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                              block_out_channels=(4, 4, 4, 4), layers_per_block=1, sample_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        theirs = reference.encode(x).latent_dist
        ours = VAE(config).eval().encode(x).latent_dist
    for attr in ("mean", "logvar", "std", "var"):
        assert getattr(ours, attr).shape == getattr(theirs, attr).shape == (2, 4, 4, 4)
    # SD 512×512×3 → 64×64×4 with the same factor
    assert (512 // config.downsample_factor, 4) == (64, config.latent_channels)


def test_diagonal_gaussian_matches_diffusers():
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(3, 4, 4, 4, generator=g), torch.randn(3, 4, 4, 4, generator=g)
    ours, theirs = DiagonalGaussian(mean, logvar), DiagonalGaussianDistribution(torch.cat([mean, logvar], dim=1))
    torch.testing.assert_close(ours.kl(), theirs.kl())
    torch.testing.assert_close(ours.mode(), theirs.mode())
    torch.testing.assert_close(ours.std, theirs.std)
    torch.testing.assert_close(ours.sample(torch.Generator().manual_seed(5)),
                               theirs.sample(torch.Generator().manual_seed(5)))


def test_vae_formulas_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g)
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    torch.testing.assert_close(autoencoder.kl_divergence(mu, logvar), expected)
    assert autoencoder.kl_divergence(torch.zeros(2, 4, 4, 4), torch.zeros(2, 4, 4, 4)).item() == 0.0
    # z = μ + σ·ε: dz/dμ = 1, dz/dlogvar = ½σε — the gradient flows through the sample
    mu, logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    eps = torch.randn(5, 16, generator=g)
    autoencoder.reparameterize(mu, logvar, eps).sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones_like(mu))
    torch.testing.assert_close(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)
    # many samples have the mean and spread they should
    z = DiagonalGaussian(torch.full((20000, 1), 2.0), torch.full((20000, 1), math.log(0.25))).sample(
        torch.Generator().manual_seed(2))
    assert z.mean().item() == pytest.approx(2.0, abs=0.02) and z.std().item() == pytest.approx(0.5, abs=0.02)
    # the loss: summed squared error per image + β·KL, both averaged over the batch
    x, x_hat = torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3)
    loss = autoencoder.vae_loss(x_hat, x, torch.ones(2, 4), torch.zeros(2, 4), beta=0.5)
    assert loss.item() == pytest.approx(9 + 0.5 * 2)


def test_a_few_hundred_steps_teach_the_autoencoder_to_copy_digits():
    """Slide 44 with the lesson's own settings: input = target beats the best constant image."""
    from shikumi.train import TrainConfig, train

    torch.manual_seed(0)
    images = data.digits("sklearn")[0]                     # 8×8: fast, and no 28×28 preset is needed for this
    images = F.interpolate(images, size=28, mode="bilinear", align_corners=False)
    train_x, test_x = images[200:], images[:200]
    model = Autoencoder(AutoencoderConfig.preset("digits"))
    g = torch.Generator().manual_seed(0)
    history = train(model, lambda split: (train_x[torch.randint(len(train_x), (32,), generator=g)],),
                    lambda m, b: F.mse_loss(m(b[0]), b[0]),
                    TrainConfig(max_steps=150, lr=6e-3, warmup_steps=20, weight_decay=0.0, eval_every=0,
                                eval_steps=1, progress=False, cpu_threads=1))
    baseline = F.mse_loss(train_x.mean(0, keepdim=True).expand_as(test_x), test_x).item()
    assert history.train_loss[-1] < history.train_loss[0]
    assert autoencoder.reconstruction_mse(model, test_x) < 0.5 * baseline


def test_fit_vae_writes_a_loadable_checkpoint(tmp_path):
    images = data.shapes(64, "train", seed=0)[0]
    path = zoo_vae.fit_vae("tiny_vae", AutoencoderConfig.preset("shapes", block_out_channels=(4, 4, 4, 4)),
                               images, images[:16], {"some": images[:8]}, tmp_path, beta=1e-3, max_steps=3, lr=1e-3,
                               batch_size=4, device="cpu", progress=False)
    assert path == tmp_path / "tiny_vae.safetensors"
    model = zoo_vae.load_vae("tiny_vae", directory=tmp_path)
    assert isinstance(model, VAE) and model.config.block_out_channels == (4, 4, 4, 4)
    assert model.config.scaling_factor > 0
    history = zoo.history("tiny_vae", tmp_path)
    assert history["steps"] == 3 and "some_mse" in history


# -- the shipped checkpoints ----------------------------------------------------------------------

def _black_mse(images):
    return images.pow(2).mean().item()  # predicting an all-black image


def test_shipped_shapes_vae_redraws_shapes_even_unseen_pairs():
    vae = zoo_vae.load_vae("vae_shapes")
    assert vae.config.latent_shape == (4, 4, 4) and vae.config.downsample_factor == 8
    for split in ("train", "heldout"):  # heldout: colour × shape pairs never in the VAE's training images
        images, specs, _, _ = data.shapes(256, split, seed=7)
        mse = autoencoder.reconstruction_mse(vae, images)
        assert mse < 0.004 and mse < 0.05 * _black_mse(images), (split, mse)
        with torch.no_grad():
            redrawn = vae.decode(vae.encode(images).latent_dist.mean).clamp(0, 1)
        # the colour survives: the mean colour of the redrawn shape's pixels is nearest to its own colour
        names = list(data.COLORS)
        palette = torch.tensor([data.COLORS[c][0] for c in names])          # (5, 3)
        mask = images.amax(1, keepdim=True) > 0.5                          # the shape's pixels
        colours = (redrawn * mask).sum((2, 3)) / mask.sum((2, 3))          # (N, 3)
        guessed = torch.cdist(colours, palette).argmin(1)
        right = sum(names[i] == s.color for i, s in zip(guessed.tolist(), specs))
        assert right / len(specs) > 0.97, (split, right)


def test_shipped_shapes_vae_scaling_factor_gives_unit_variance_latents():
    vae = zoo_vae.load_vae("vae_shapes")
    images = data.shapes(512, "train", seed=11)[0]
    with torch.no_grad():
        latents = vae.encode(images).latent_dist.mean * vae.config.scaling_factor
    assert 0.8 < latents.std().item() < 1.25


def test_shipped_digits_vae_reconstructs_and_generates():
    vae = zoo_vae.load_vae("vae_digits")
    (_, _), (test_x, _) = zoo_vae.digits_split()
    baseline = F.mse_loss(test_x.mean(0, keepdim=True).expand_as(test_x), test_x).item()
    assert autoencoder.reconstruction_mse(vae, test_x) < 0.5 * baseline
    with torch.no_grad():  # random codes from N(0, 1) decode to digit-like images: dark background, some ink
        dreams = vae.decode(torch.randn(64, 16, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    border = torch.cat([dreams[..., :3, :].flatten(1), dreams[..., -3:, :].flatten(1)], 1).mean().item()
    centre = dreams[..., 8:20, 8:20].mean().item()
    assert border < 0.05 and centre > 3 * border


# -- the plot ----------------------------------------------------------------------

def test_scatter_has_one_legend_entry_per_label():
    from shikumi import plot

    ax = plot.scatter(torch.randn(30, 2), torch.arange(30) % 3, title="t")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


# -- the hidden checks ----------------------------------------------------------------------------

LIBRARY = {"compression_ratio": autoencoder.compression_ratio, "reparameterize": autoencoder.reparameterize,
           "kl_divergence": autoencoder.kl_divergence, "vae_loss": autoencoder.vae_loss}


def _reference(grade_id):
    """The solution's own answer (the one reference answer of each exercise)."""
    return solution_answers("05_autoencoder")[grade_id]


@pytest.mark.parametrize("grade_id", list(CHECKS))
def test_right_answers_pass_every_case(grade_id):
    check = CHECKS[grade_id]
    sizes = set()
    for seed in SEEDS:
        cases = check.cases(random.Random(seed))
        sizes.add(len(cases))
        for case in cases:
            args = tuple(round_trip(list(case.args)))
            for right in (_reference(grade_id), LIBRARY.get(grade_id, _reference(grade_id))):
                value = round_trip(right(*args, **case.kwargs))
                assert check.verify(case, value) is None, (seed, case.args)
    assert len(sizes) == 1, "the case structure must not depend on the seed (deterministic partial credit)"


def test_conv_formula_is_what_conv2d_does():
    for size in (7, 28, 32, 33, 512):
        for k, s, p in ((3, 2, 1), (3, 1, 1), (5, 2, 0), (4, 2, 1), (5, 3, 0)):
            conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)
            assert conv(torch.zeros(1, 1, size, size)).shape[-1] == _reference("conv_output_size")(size, k, s, p)


def _problems(grade_id, answer, seed=0):
    check = CHECKS[grade_id]
    out = []
    for case in check.cases(random.Random(seed)):
        out.append(check.verify(case, round_trip(answer(*case.args, **case.kwargs))))
    return [p for p in out if p]


@pytest.mark.parametrize("grade_id, answer, hint", [
    ("compression_ratio", lambda i, lat: math.prod(lat) / math.prod(i), "latent / image"),
    ("compression_ratio", lambda i, lat: math.prod(i) // math.prod(lat), "true division"),
    ("compression_ratio", lambda i, lat: sum(i) / sum(lat), "math.prod"),
    ("compression_ratio", lambda i, lat: math.prod(i[1:]) / math.prod(lat[1:]), "channels"),
    ("conv_output_size", lambda n, k, s, p: (n + 2 * p - k) // s, "+ 1"),
    ("conv_output_size", lambda n, k, s, p: (n - k) // s + 1, "2·padding"),
    ("conv_output_size", lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1, "Round down"),
    ("conv_output_size", lambda n, k, s, p: (n + 2 * p - k) / s + 1, "integer division"),
    ("reparameterize", lambda m, lv, e: m + lv.exp() * e, "square root"),
    ("reparameterize", lambda m, lv, e: m + lv * e, "log σ²"),
    ("reparameterize", lambda m, lv, e: (0.5 * lv).exp() * e, "Start from the mean"),
    ("kl_divergence", lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).mean(), "averaged over everything"),
    ("kl_divergence", lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(), "Average over the batch"),
    ("kl_divergence", lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(1).mean(), "dimension but the batch"),
    ("kl_divergence", lambda m, lv: (-0.5 * (m**2 + lv.exp() - 1 - lv)).flatten(1).sum(1).mean(), "never negative"),
    ("kl_divergence", lambda m, lv: (m**2 + lv.exp() - 1 - lv).flatten(1).sum(1).mean(), "factor 0.5"),
    ("kl_divergence", lambda m, lv: autoencoder.kl_divergence(m, lv).item(), "scalar tensor"),
    ("vae_loss", lambda xh, x, m, lv, b=1.0: F.mse_loss(xh, x) + b * autoencoder.kl_divergence(m, lv), "F.mse_loss"),
    ("vae_loss", lambda xh, x, m, lv, b=1.0: (xh - x).pow(2).sum() + b * autoencoder.kl_divergence(m, lv),
     "Average the squared error over the batch"),
    ("vae_loss", lambda xh, x, m, lv, b=1.0: autoencoder.vae_loss(xh, x, m, lv, 1.0), "Multiply the KL term by β"),
    ("vae_loss", lambda xh, x, m, lv, b=1.0: b * (xh - x).pow(2).flatten(1).sum(1).mean()
     + autoencoder.kl_divergence(m, lv), "β multiplies the KL term only"),
])
def test_classic_mistakes_get_their_hint(grade_id, answer, hint):
    problems = _problems(grade_id, answer)
    assert problems, "the mistake must not pass"
    assert any(hint in p for p in problems), problems


def test_kl_check_catches_a_sum_over_dimension_one_only_on_maps():
    """(B, 16) latents cannot tell .sum(1) from .flatten(1).sum(1): the (B, 4, 4, 4) case must."""
    problems = _problems("kl_divergence", lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(1).mean())
    assert len(problems) == 1 and "(3, 4, 4, 4)" in problems[0]


def test_kl_over_the_wrong_axis_is_named_without_an_empty_index():
    """Issue 13: a scalar's message said 「インデックス () で…」. One number gets "expected a, got b" and the hint."""
    case = l05.kl_cases(random.Random(0))[1]
    mu, logvar = case.args
    everything = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean()
    with speaking("ja"):
        message = l05.kl_verify(case, everything)
    assert "インデックス" not in message and "期待される値は" in message and "すべてについて平均しています" in message
    message = l05.kl_verify(case, 1.1 * autoencoder.kl_divergence(mu, logvar))
    assert "at index" not in message and "Compare step by step" in message and "batch mean is" in message

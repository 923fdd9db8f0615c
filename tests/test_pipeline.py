"""Lesson 08's text-to-image pipeline: the formulas against diffusers, the pipeline's behaviour, the shipped
model's prompt fidelity judged by rules (shikumi.data.read_shape), and the tiny diffusers bridge."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch

from shikumi import data
from shikumi.device import one_cpu_thread
from shikumi.pipeline import TextToImagePipeline, classifier_free_guidance, img2img_start
from shikumi.zoo import clip_shapes
from shikumi.zoo.sd_shapes import load_pipeline, prompt_fidelity, unet_config

# -- the judge ------------------------------------------------------------------------------------------------


def test_read_shape_reads_every_drawing_back():
    images, specs, _, _ = data.shapes(300, "all", seed=11)
    got = [data.read_shape(im) for im in images]
    wrong = [(s, g) for s, g in zip(specs, got) if g != s]
    assert not wrong, f"{len(wrong)} of 300 misread, e.g. {wrong[:3]}"


def test_read_shape_of_an_empty_image_is_none():
    assert data.read_shape(torch.zeros(3, 32, 32)) is None
    assert data.read_shape(torch.rand(3, 32, 32) * 0.2) is None          # dim noise, nothing drawn


def test_read_shape_is_not_fooled_by_a_single_colour_blob():
    square = data.draw_shape(data.Shape("blue", "square", "large", "middle"))
    assert data.read_shape(square).shape == "square"
    blob = torch.zeros(3, 32, 32)
    blob[0, 10:22, 10:22] = 0.95                                          # a red square, drawn another way
    assert (data.read_shape(blob).color, data.read_shape(blob).shape) == ("red", "square")


# -- the formulas ---------------------------------------------------------------------------------------------


def test_classifier_free_guidance_interpolates_and_extrapolates():
    g = torch.Generator().manual_seed(0)
    uncond, text = torch.randn(2, 4, 4, 4, generator=g), torch.randn(2, 4, 4, 4, generator=g)
    assert torch.equal(classifier_free_guidance(uncond, text, 0.0), uncond)
    assert torch.allclose(classifier_free_guidance(uncond, text, 1.0), text)
    assert torch.allclose(classifier_free_guidance(uncond, text, 3.0), 3 * text - 2 * uncond, atol=1e-6)


@pytest.mark.parametrize("n", [1, 10, 25, 50])
@pytest.mark.parametrize("strength", [0.0, 0.1, 0.33, 0.5, 0.75, 0.999, 1.0])
def test_img2img_start_matches_diffusers(n, strength):
    from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline

    scheduler = DDIMScheduler()
    scheduler.set_timesteps(n)
    fake = SimpleNamespace(scheduler=scheduler)
    timesteps, steps_run = StableDiffusionImg2ImgPipeline.get_timesteps(fake, n, strength, "cpu")
    start = img2img_start(n, strength)
    assert n - start == steps_run
    assert torch.equal(scheduler.timesteps[start:], timesteps)


# -- the pipeline, with a small random UNet ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_pipe():
    from shikumi.diffusion import DDIMScheduler
    from shikumi.unet import UNet
    from shikumi.zoo.clip_shapes import load_clip
    from shikumi.zoo.sd_shapes import LATENT_SCHEDULE
    from shikumi.zoo.vae import load_vae

    torch.manual_seed(0)
    clip_model, tokenizer = load_clip()
    return TextToImagePipeline(load_vae("vae_shapes").eval(), clip_model.eval(), tokenizer,
                               UNet(unet_config("tiny")).eval(), DDIMScheduler(**LATENT_SCHEDULE))


def test_pipeline_shapes_range_and_seed(random_pipe):
    out = random_pipe(["a small red circle on the left", "右に大きな青い四角"], num_inference_steps=4,
                      generator=torch.Generator().manual_seed(1))
    assert out.images.shape == (2, 3, 32, 32) and out.latents.shape == (2, 4, 4, 4)
    assert out.images.min() >= 0 and out.images.max() <= 1
    again = random_pipe(["a small red circle on the left", "右に大きな青い四角"], num_inference_steps=4,
                        generator=torch.Generator().manual_seed(1))
    assert torch.equal(out.images, again.images)


def test_guidance_runs_the_unet_on_both_prompts(random_pipe):
    """predict_noise with guidance = two separate UNet calls combined by classifier_free_guidance."""
    g = torch.Generator().manual_seed(2)
    z, t = torch.randn(2, 4, 4, 4, generator=g), torch.tensor(500)
    text, uncond = random_pipe.encode_prompt(["a red circle", "赤い丸"]), random_pipe.encode_prompt(["", ""])
    with torch.no_grad():
        eps_text, eps_uncond = random_pipe.unet(z, t, *text), random_pipe.unet(z, t, *uncond)
    got = random_pipe.predict_noise(z, t, text, uncond, guidance_scale=5.0)
    assert torch.allclose(got, eps_uncond + 5.0 * (eps_text - eps_uncond), atol=1e-5)
    assert torch.allclose(random_pipe.predict_noise(z, t, text, uncond, 1.0), eps_text, atol=1e-6)


def test_pipeline_loop_equals_diffusers_ddim_driving_the_same_unet(random_pipe):
    """The pipeline's ⑥ loop, with diffusers' DDIMScheduler stepping instead of ours: the same latents."""
    from diffusers import DDIMScheduler as TheirDDIM

    from shikumi.zoo.sd_shapes import LATENT_SCHEDULE

    prompts, steps, scale = ["a large green cross at the top"], 6, 3.0
    ours = random_pipe(prompts, num_inference_steps=steps, guidance_scale=scale,
                       generator=torch.Generator().manual_seed(3)).latents
    theirs = TheirDDIM(**LATENT_SCHEDULE)
    theirs.set_timesteps(steps)
    z = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(3))
    text, uncond = random_pipe.encode_prompt(prompts), random_pipe.encode_prompt([""])
    for t in theirs.timesteps:
        z = theirs.step(random_pipe.predict_noise(z, t, text, uncond, scale), t, z).prev_sample
    assert torch.allclose(ours, z, atol=1e-5), (ours - z).abs().max()


def test_img2img_keeps_the_picture_at_strength_zero_and_runs_the_last_steps(random_pipe):
    image = data.shapes(1, "train", seed=4)[0]
    same = random_pipe("a red circle", image=image, strength=0.0, num_inference_steps=10)
    assert torch.allclose(same.images, image)
    for strength, steps_run in ((0.35, 3), (1.0, 10)):
        seen = []
        random_pipe("a red circle", image=image, strength=strength, num_inference_steps=10,
                    callback=lambda i, t, z, seen=seen: seen.append(t))
        random_pipe.scheduler.set_timesteps(10)
        assert seen == random_pipe.scheduler.timesteps[10 - steps_run:].tolist()


def test_callback_sees_every_step(random_pipe):
    seen = []
    random_pipe("a red circle", num_inference_steps=5, callback=lambda i, t, z: seen.append((i, t, tuple(z.shape))))
    assert [s[0] for s in seen] == list(range(5)) and seen[0][2] == (1, 4, 4, 4)
    assert seen[0][1] > seen[-1][1]                                       # from noisy to clean


# -- the shipped model: does the picture match the prompt? --------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_pipe():
    return load_pipeline()


def test_shipped_unet_is_small_and_reproducible():
    from shikumi import checkpoint, zoo

    path = checkpoint.verify("sd_shapes")                                 # the SHA-256 matches SHA256SUMS
    assert path.stat().st_size <= 20 * 2**20
    assert zoo.RECIPES["sd_shapes"] == "shikumi.zoo.sd_shapes:train_sd_shapes"


def test_shipped_pipeline_follows_prompts_on_trained_pairs(shipped_pipe):
    start = time.perf_counter()
    with torch.inference_mode(), one_cpu_thread():
        result = prompt_fidelity(shipped_pipe, "train", seed=0, num_inference_steps=20, guidance_scale=3.0)
    print(f"trained pairs: {result} in {time.perf_counter() - start:.1f} s")
    assert result["n"] == 320
    assert result["color_shape"] >= 0.90, result
    assert min(result["en"], result["ja"]) >= 0.85, result


def test_shipped_pipeline_composes_held_out_pairs(shipped_pipe):
    """Colour × shape pairs never seen in training (data.HELD_OUT), e.g. "a red triangle"."""
    with torch.inference_mode(), one_cpu_thread():
        result = prompt_fidelity(shipped_pipe, "heldout", repeats=2, seed=1, num_inference_steps=20,
                                 guidance_scale=3.0)
    print(f"held-out pairs: {result}")
    assert result["n"] == 160
    assert result["color_shape"] >= 0.60, result


def test_prompt_fidelity_counts_the_misses_that_kept_their_colour():
    """Lesson 08 reads kept_color to say how the model fails: a pipeline that always draws a large red circle gets
    every held-out pair wrong, and only the red triangles (one held-out pair in four) keep their colour."""
    red_circle = torch.from_numpy(data.draw_shape(data.Shape("red", "circle", "large", "middle")))

    def always_a_red_circle(prompts, generator=None, **_):
        return SimpleNamespace(images=red_circle[None].expand(len(prompts), -1, -1, -1))

    result = prompt_fidelity(always_a_red_circle, "heldout", desc="judging")
    assert result["color_shape"] == 0.0 and result["kept_color"] == pytest.approx(1 / 4), result


def test_guidance_helps(shipped_pipe):
    """Without guidance (scale 0: the prompt is ignored) the picture matches the prompt only by chance."""
    with torch.inference_mode(), one_cpu_thread():
        unguided = prompt_fidelity(shipped_pipe, "train", seed=2, num_inference_steps=10, guidance_scale=0.0)
    assert unguided["color_shape"] < 0.3, unguided


# -- training: lesson 08 trains its UNet live (issue 15) --------------------------------------------------------


def test_the_live_recipe_trains_the_shipped_unet_architecture():
    """The lesson's later sections (the UNet's blocks, its parameter count) read the same model either way."""
    import json

    from shikumi.checkpoint import SHIPPED
    from shikumi.unet import UNetConfig
    from shikumi.zoo.sd_shapes import RECIPES

    shipped = UNetConfig(**json.loads((SHIPPED / "sd_shapes.json").read_text(encoding="utf-8")))
    assert unet_config(RECIPES["live"].unet) == shipped


def test_min_snr_weighting_only_lowers_the_loss_of_nearly_clean_steps():
    from shikumi.diffusion import DDPMScheduler
    from shikumi.zoo.sd_shapes import LATENT_SCHEDULE, denoising_loss

    scheduler = DDPMScheduler(**LATENT_SCHEDULE)
    batch = (torch.randn(512, 4, 4, 4), None, None)

    def guess_zero(z_t, t, context, mask):
        return torch.zeros_like(z_t)

    def loss(gamma):
        torch.manual_seed(0)
        return denoising_loss(guess_zero, batch, scheduler, gamma).item()

    assert loss(1e12) == pytest.approx(loss(None), rel=1e-5)      # γ → ∞: every weight is 1, the plain MSE
    assert loss(5.0) < 0.9 * loss(None)                             # the clean steps (SNR > 5) count less …
    assert loss(5.0) > 0.3 * loss(None)                             # … the noisy half of the steps fully


def test_training_shows_pictures_and_stop_keeps_the_model(tmp_path):
    """The lesson's cell, small: the sample is a figure of the eight prompts (the lesson's language), and Stop
    ends training early with the model saved as it is, which load_pipeline then reads."""
    import matplotlib.pyplot as plt

    from shikumi import zoo
    from shikumi.live import LiveTraining
    from shikumi.zoo.sd_shapes import RECIPES, sampler, train_sd_shapes

    draw = sampler(lang="ja")
    plt.close("all")   # figures another test left open in this process are not this one's

    def sample_then_stop(unet):
        figure = draw(unet)
        if len(watch.samples) == 1:               # the second picture: the learner presses Stop
            watch.stop_requested = True
        return figure

    watch = LiveTraining(sample_fn=sample_then_stop, every_s=0, mode="text", lang="ja")
    with one_cpu_thread():
        train_sd_shapes(tmp_path, size="tiny", device="cpu", progress=False, live=watch)
    steps = zoo.history("sd_shapes", tmp_path)["steps"]
    assert steps == 2 < RECIPES["tiny"].steps
    figure = watch.samples[-1][2]
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 8 and titles[4] == data.Shape("red", "triangle", "large", "middle").caption("ja")
    assert len(plt.get_fignums()) <= 1                                # one figure open, however many samples
    pipe = load_pipeline("cpu", directory=tmp_path)
    assert pipe("赤い丸", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images.shape == (1, 3, 32, 32)


# -- the real thing, tiny ----------------------------------------------------------------------------------------


def test_tiny_diffusers_pipeline_has_our_shapes(shipped_pipe):
    from shikumi.bridge import tiny_stable_diffusion

    pipe = tiny_stable_diffusion()
    image = data.shapes(1, "train", seed=6)[0]
    with torch.no_grad():
        theirs = pipe.vae.encode(image * 2 - 1).latent_dist.mean
        ours = shipped_pipe.encode_image(image)
        assert theirs.shape == ours.shape == (1, 4, 4, 4)
        ids = pipe.tokenizer(["a red circle"], padding="max_length", return_tensors="pt").input_ids
        hidden = pipe.text_encoder(ids).last_hidden_state
        assert hidden.shape[-1] == shipped_pipe.encode_prompt(["a red circle"])[0].shape[-1] == 64
        eps = pipe.unet(ours, 500, encoder_hidden_states=hidden).sample
        assert eps.shape == ours.shape
        out = pipe("a red circle", num_inference_steps=2, height=32, width=32, output_type="pt",
                   generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 3, 32, 32)


# -- what a learner types into the prompt box (issue 13) ----------------------------------------------------------

@pytest.mark.parametrize("typed, caption", [
    ("左に　大きな　赤い　丸", "左に大きな赤い丸"),          # full-width spaces
    ("左に 大きな 赤い 丸。", "左に大きな赤い丸"),            # half-width spaces and 。
    ("下に大きい青い丸", "下に大きな青い丸"),                # 大きい → 大きな
    ("右に小さい紫色の十字", "右に小さな紫の十字"),          # 小さい, 紫色
    ("緑色の四角", "緑の四角"),
    ("黄色の丸", "黄色い丸"),                                # 黄色の → 黄色い (no の after an adjective)
    ("真ん中に赤色の三角！", "真ん中に赤い三角"),
    ("A big red circle on the left.", "a large red circle on the left"),
])
def test_a_typed_prompt_reads_as_the_caption_it_means(random_pipe, typed, caption):
    from shikumi.clip import tokenize

    assert random_pipe.unknown_words(typed) == []
    assert torch.equal(tokenize([typed], random_pipe.tokenizer), tokenize([caption], random_pipe.tokenizer))


def test_the_prompt_box_can_say_which_words_it_did_not_understand(random_pipe):
    assert random_pipe.unknown_words("左に大きなピンクの丸、ピンクの") == ["ピンク"]
    assert random_pipe.unknown_words("a huge pink blob") == ["huge", "pink", "blob"]


def test_the_captions_and_their_vocabulary_read_as_before():
    """Normalising what a learner types must not change what the shipped models were trained on."""
    import json

    from shikumi import captions
    from shikumi.checkpoint import SHIPPED

    for shape in data.all_shapes("all"):
        assert captions.caption_words(shape.caption("ja")) == data.tokenize_ja(shape.caption("ja"))
        assert captions.caption_words(shape.caption("en")) == data.tokenize_en(shape.caption("en"))
    saved = json.loads((SHIPPED / "clip_shapes.vocab.json").read_text(encoding="utf-8"))
    assert clip_shapes.build_tokenizer().itos == saved["itos"]
    assert not set(captions.SAME_AS) & set(saved["itos"])      # a caption's own word is never rewritten

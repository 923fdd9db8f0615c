"""The GPU path: every model of the course trains on CUDA in the one training loop (bf16 autocast, optionally
torch.compile), and the shipped models sample on CUDA as on the CPU. Skipped, with the reason, without CUDA.

Run on a GPU machine with `pytest tests/test_cuda.py tests/test_train.py -q` (benchmarks/gpu_smoke.sh does).
"""

from __future__ import annotations

import math

import pytest
import torch

from shikumi import autoencoder, charlm, clip, diffusion, translation
from shikumi.autoencoder import VAE, AutoencoderConfig
from shikumi.clip import CLIP, CLIPConfig
from shikumi.gpt import GPT, GPTConfig
from shikumi.train import TrainConfig, train
from shikumi.transformer import Transformer, TransformerConfig
from shikumi.unet import UNet, UNetConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here (the GPU path is tested "
                                                                      "on a GPU machine: benchmarks/gpu_smoke.sh)")


def _tokens(B, T, vocab, g):
    return torch.randint(1, vocab, (B, T), generator=g)


def _gpt():
    model = GPT(GPTConfig(vocab_size=40, block_size=32, n_layer=2, n_head=4, d_model=64))
    return model, lambda g: (_tokens(8, 32, 40, g), _tokens(8, 32, 40, g)), charlm.loss_fn


def _transformer():
    model = Transformer(TransformerConfig(src_vocab_size=30, tgt_vocab_size=30, block_size=16))
    return model, lambda g: (_tokens(8, 10, 30, g), _tokens(8, 12, 30, g), _tokens(8, 12, 30, g)), translation.loss_fn


def _vae():
    model = VAE(AutoencoderConfig.preset("shapes"))
    return model, lambda g: (torch.rand(8, 3, 32, 32, generator=g) * 2 - 1,), autoencoder.vae_loss_fn(1e-3)


def _clip():
    model = CLIP(CLIPConfig())
    return model, lambda g: (torch.rand(8, 3, 32, 32, generator=g), _tokens(8, 16, 64, g)), clip.loss_fn


def _unet_with_text():
    """Lesson 08's kind of UNet: latents (4, 8, 8) and cross-attention to a text (B, 5, 12)."""
    model = UNet(UNetConfig.preset("tiny", in_channels=4, out_channels=4, cross_attention_dim=12, sample_size=8))
    scheduler = diffusion.DDPMScheduler()

    def loss_fn(m, batch):
        z0, context = batch
        t = torch.randint(0, 1000, (z0.shape[0],), device=z0.device)
        noise = torch.randn_like(z0)
        return torch.nn.functional.mse_loss(m(scheduler.add_noise(z0, noise, t), t, context), noise)

    return model, lambda g: (torch.randn(8, 4, 8, 8, generator=g), torch.randn(8, 5, 12, generator=g)), loss_fn


def _unet_digits():
    model = UNet(UNetConfig.preset("tiny"))
    scheduler = diffusion.DDPMScheduler(**diffusion.DIGITS_SCHEDULE)
    return (model, lambda g: (torch.rand(8, 1, 28, 28, generator=g) * 2 - 1,),
            lambda m, b: diffusion.noise_prediction_loss(m, b, scheduler))


MODELS = {"gpt": _gpt, "transformer": _transformer, "vae": _vae, "clip": _clip, "unet_digits": _unet_digits,
          "unet_with_text": _unet_with_text}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_on_cuda_with_bf16_autocast(name):
    torch.manual_seed(0)
    model, make_batch, loss_fn = MODELS[name]()
    g = torch.Generator().manual_seed(0)
    dtypes = set()

    def watched(m, batch):
        loss = loss_fn(m, batch)
        dtypes.add(torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None)
        return loss

    history = train(model, lambda split: make_batch(g), watched,
                    TrainConfig(max_steps=20, lr=1e-3, warmup_steps=2, eval_every=10, eval_steps=2, device="cuda",
                                progress=False))
    assert all(math.isfinite(x) for x in history.train_loss + history.eval_loss), history.train_loss
    assert dtypes == {torch.bfloat16}
    assert next(model.parameters()).device.type == "cuda"
    assert next(model.parameters()).dtype == torch.float32            # autocast: fp32 weights, bf16 arithmetic


def test_gpt_trains_with_torch_compile_on_cuda():
    torch.manual_seed(0)
    model, make_batch, loss_fn = _gpt()
    g = torch.Generator().manual_seed(0)
    batch = make_batch(g)                      # one fixed batch: the loss must fall
    history = train(model, lambda split: batch, loss_fn,
                    TrainConfig(max_steps=30, lr=3e-3, warmup_steps=2, eval_every=0, eval_steps=1, device="cuda",
                                progress=False, compile=True))
    assert history.train_loss[-1] < history.train_loss[0] - 0.5


def test_shipped_models_sample_on_cuda_as_on_the_cpu():
    gpt_cpu, tok = charlm.load_gpt_shakespeare()
    gpt_gpu, _ = charlm.load_gpt_shakespeare(device="cuda")
    ids = charlm.encode("ROMEO:\n", tok)[None]
    with torch.no_grad():
        torch.testing.assert_close(gpt_gpu(ids.cuda()).cpu(), gpt_cpu(ids), atol=1e-3, rtol=1e-3)
    assert gpt_gpu.generate(ids.cuda(), 20, temperature=0).shape == (1, ids.size(1) + 20)
    unet_cpu, schedule = diffusion.load_unet_digits()
    unet_gpu, _ = diffusion.load_unet_digits(device="cuda")
    images = {}
    for device, unet in (("cpu", unet_cpu), ("cuda", unet_gpu)):
        images[device] = diffusion.sample(unet, diffusion.DDIMScheduler(**schedule), (4, 1, 28, 28), 10,
                                          generator=torch.Generator().manual_seed(0), device=device).cpu()
    assert (images["cuda"] - images["cpu"]).abs().max().item() < 0.05  # TF32 convolutions: close, not equal


def test_text_to_image_pipeline_on_cuda_as_on_the_cpu():
    """Lesson 08: the same seed draws the same pictures on the GPU (noise is drawn on the CPU generator), and
    img2img and the prompt judge work there."""
    from shikumi import data, pipeline

    prompts = ["a large red circle on the left", "右に小さな青い三角"]
    pictures = {}
    for device in ("cpu", "cuda"):
        pipe = pipeline.load_pipeline(device)
        pictures[device] = pipe(prompts, num_inference_steps=10, generator=torch.Generator().manual_seed(0)).images
        source = torch.from_numpy(data.draw_shape(data.Shape("red", "circle", "large", "middle"))[None])
        assert pipe("a blue square", image=source, strength=0.5).images.device.type == device
    assert pictures["cuda"].device.type == "cuda"
    assert (pictures["cuda"].cpu() - pictures["cpu"]).abs().max().item() < 0.05
    fidelity = pipeline.prompt_fidelity(pipeline.load_pipeline("cuda"), "train", num_inference_steps=10)
    assert fidelity["color_shape"] >= 0.9

"""The GPU path: every model of the course trains on CUDA in the one training loop (bf16 autocast, optionally
torch.compile), and the shipped models sample on CUDA as on the CPU. Skipped, with the reason, without CUDA.

Run on a GPU machine with `pytest tests/test_cuda.py tests/test_train.py -q` (benchmarks/gpu_smoke.sh does).
"""

from __future__ import annotations

import math

import pytest
import torch

from shikumi import diffusion
from shikumi.train import TrainConfig, train
from shikumi.zoo import gpt_shakespeare, sd_shapes, unet_digits
from tests.tiny_models import MODELS, tiny_gpt

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here (the GPU path is tested "
                                                                      "on a GPU machine: benchmarks/gpu_smoke.sh)")


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
    model, make_batch, loss_fn = tiny_gpt()
    g = torch.Generator().manual_seed(0)
    batch = make_batch(g)                      # one fixed batch: the loss must fall
    history = train(model, lambda split: batch, loss_fn,
                    TrainConfig(max_steps=30, lr=3e-3, warmup_steps=2, eval_every=0, eval_steps=1, device="cuda",
                                progress=False, compile=True))
    assert history.train_loss[-1] < history.train_loss[0] - 0.5


def test_shipped_models_sample_on_cuda_as_on_the_cpu():
    gpt_cpu, tok = gpt_shakespeare.load_gpt_shakespeare()
    gpt_gpu, _ = gpt_shakespeare.load_gpt_shakespeare(device="cuda")
    ids = gpt_shakespeare.encode("ROMEO:\n", tok)[None]
    with torch.no_grad():
        torch.testing.assert_close(gpt_gpu(ids.cuda()).cpu(), gpt_cpu(ids), atol=1e-3, rtol=1e-3)
    assert gpt_gpu.generate(ids.cuda(), 20, temperature=0).shape == (1, ids.size(1) + 20)
    unet_cpu, schedule = unet_digits.load_unet_digits()
    unet_gpu, _ = unet_digits.load_unet_digits(device="cuda")
    images = {}
    for device, unet in (("cpu", unet_cpu), ("cuda", unet_gpu)):
        images[device] = diffusion.sample(unet, diffusion.DDIMScheduler(**schedule), (4, 1, 28, 28), 10,
                                          generator=torch.Generator().manual_seed(0), device=device).cpu()
    assert (images["cuda"] - images["cpu"]).abs().max().item() < 0.05  # TF32 convolutions: close, not equal


def test_text_to_image_pipeline_on_cuda_as_on_the_cpu():
    """Lesson 08: the same seed draws the same pictures on the GPU (noise is drawn on the CPU generator), and
    img2img and the prompt judge work there."""
    from shikumi import data

    prompts = ["a large red circle on the left", "右に小さな青い三角"]
    pictures = {}
    for device in ("cpu", "cuda"):
        pipe = sd_shapes.load_pipeline(device)
        pictures[device] = pipe(prompts, num_inference_steps=10, generator=torch.Generator().manual_seed(0)).images
        source = torch.from_numpy(data.draw_shape(data.Shape("red", "circle", "large", "middle"))[None])
        assert pipe("a blue square", image=source, strength=0.5).images.device.type == device
    assert pictures["cuda"].device.type == "cuda"
    assert (pictures["cuda"].cpu() - pictures["cpu"]).abs().max().item() < 0.05
    fidelity = sd_shapes.prompt_fidelity(sd_shapes.load_pipeline("cuda"), "train", num_inference_steps=10)
    assert fidelity["color_shape"] >= 0.9

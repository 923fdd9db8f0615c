"""Lesson 08's hidden checks: right answers pass for any seed, classic mistakes get their own hint."""

from __future__ import annotations

import functools
import importlib
import math
import random

import pytest
import torch

from autograder.checks import for_lesson
from autograder.checks import l08_text_to_image as checks
from shikumi import pipeline
from tests.conftest import solution_answers

CHECKS = for_lesson("08_text_to_image")


@functools.cache
def _build(dotted: str):
    module, _, function = dotted.partition(":")
    return getattr(importlib.import_module(module), function)()


def _built(case):
    return (_build(case.build),) if case.build else ()


RIGHT = solution_answers("08_text_to_image")  # the one reference answer of each exercise: the solution's own
cross, generate = RIGHT["text_cross_attention"], RIGHT["generate"]
LIBRARY = {"guidance": pipeline.classifier_free_guidance, "img2img_start": pipeline.img2img_start}


def _verify_all(gid, answer, seed=0):
    check = CHECKS[gid]
    return [check.verify(case, answer(*_built(case), *case.args)) for case in check.cases(random.Random(seed))]


@pytest.mark.parametrize("gid", list(CHECKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_right_answers_pass_every_check(gid, seed):
    for right in dict.fromkeys((RIGHT[gid], LIBRARY.get(gid, RIGHT[gid]))):  # the solution's, the library's
        assert _verify_all(gid, right, seed) == [None] * len(CHECKS[gid].cases(random.Random(seed)))


def test_case_structure_is_fixed():
    """Partial credit is a fraction of the cases: their number and kind must not depend on the seed."""
    for gid, check in CHECKS.items():
        runs = [check.cases(random.Random(seed)) for seed in (0, 99)]
        assert [(c.edge, c.build, len(c.args)) for c in runs[0]] == [(c.edge, c.build, len(c.args)) for c in runs[1]]
        assert any(not c.edge for c in runs[0]), gid


def test_cross_attention_hints():
    def variant(**kw):
        def answer(features, text, mask, w_q, w_k, w_v):
            B, C, H, W = features.shape
            x = features.reshape(B, H * W, C) if kw.get("flat") else features.flatten(2).transpose(1, 2)
            q, k, v = x @ w_q, text @ w_k, text @ w_v
            scores = q @ k.transpose(1, 2) / math.sqrt(kw.get("scale", q.shape[-1]))
            if not kw.get("no_mask"):
                scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
            out = scores.softmax(kw.get("dim", -1)) @ v
            return out.reshape(B, C, H, W) if kw.get("flat") else out.transpose(1, 2).reshape(B, C, H, W)
        return answer

    assert all("padding" in m for m in _verify_all("text_cross_attention", variant(no_mask=True)))
    assert all("Forgot to divide" in m for m in _verify_all("text_cross_attention", variant(scale=1.0)))
    assert all("wrong axis" in m for m in _verify_all("text_cross_attention", variant(dim=-2, no_mask=False)))
    assert all("flatten(2)" in m for m in _verify_all("text_cross_attention", variant(flat=True)))
    assert all("shape" in m for m in _verify_all("text_cross_attention", lambda f, *a: cross(f, *a)[0]))


def test_guidance_hints():
    msgs = _verify_all("guidance", lambda u, c, s: c + s * (u - c))
    assert "Backwards" in msgs[0] and "Backwards" in msgs[1]
    msgs = _verify_all("guidance", lambda u, c, s: u + s * c)
    assert "difference" in msgs[0]
    # a constant answer earns nothing: the edge cases (s = 1, s = 0) count only with a main case
    cases = CHECKS["guidance"].cases(random.Random(0))
    assert [c.edge for c in cases] == [False, False, True, True]


def test_predict_noise_hints():
    msgs = _verify_all("predict_noise", lambda unet, z, t, text, uncond, s: unet(z, t, *text))
    assert "text prediction alone" in msgs[0] and msgs[2] is None      # s = 1: the text prediction is right
    msgs = _verify_all("predict_noise", lambda unet, z, t, text, uncond, s:
                       pipeline.classifier_free_guidance(unet(z, t, uncond[0]), unet(z, t, text[0]), s))
    assert "mask" in msgs[0]


def test_generate_hints():
    def no_loop(pipe, prompts, steps, s, seed):
        return pipe.decode_latents(pipe.prepare_latents(len(prompts), torch.Generator().manual_seed(seed)))

    msgs = _verify_all("generate", no_loop)
    assert all("starting noise" in m for m in msgs)
    msgs = _verify_all("generate", lambda pipe, prompts, steps, s, seed: generate(pipe, prompts, steps, 1.0, seed))
    assert "guidance scale was not used" in msgs[0]


def test_img2img_start_hints():
    msgs = _verify_all("img2img_start", lambda n, strength: min(int(n * strength), n))
    assert "number of steps to run" in msgs[0]
    msgs = _verify_all("img2img_start", lambda n, strength: float(n - int(n * strength)))
    assert all("float" in m for m in msgs)


def test_img2img_wrong_answers_earn_no_main_case_for_any_seed():
    """'The number of steps to run' (the classic confusion) and round() instead of int() fail every main case."""
    for seed in range(100):
        for case in CHECKS["img2img_start"].cases(random.Random(seed)):
            n, strength = case.args
            if case.edge:
                continue
            assert checks.start_verify(case, min(int(n * strength), n)) is not None, case
    case = CHECKS["img2img_start"].cases(random.Random(0))[2]
    assert "Round down" in checks.start_verify(case, case.args[0] - round(case.args[0] * case.args[1]))

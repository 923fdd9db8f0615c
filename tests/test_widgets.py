"""shikumi.widgets: every explorer redraws with its controls' values, and `labels` renames controls on screen only."""

import ipywidgets
import pytest

from shikumi import widgets


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    monkeypatch.setattr(widgets.plt, "show", lambda: None)


def test_prompt_explorer_redraws_with_every_value_by_name():
    seen = []
    box = widgets.prompt_explorer(lambda prompt, seed: seen.append((prompt, seed)), "a red square",
                                  {"seed": (0, 9, 1, 3)})
    text, seed = box.children[0], box.children[1]
    assert isinstance(text, ipywidgets.Text) and isinstance(seed, ipywidgets.IntSlider)
    seed.value = 5
    text.value = "a blue circle"
    assert seen == [("a red square", 3), ("a red square", 5), ("a blue circle", 5)]


def test_labels_change_what_is_shown_not_what_draw_receives():
    seen = []
    box = widgets.prompt_explorer(lambda prompt, guidance_scale: seen.append((prompt, guidance_scale)), "x",
                                  {"guidance_scale": (0.0, 9.0, 0.5, 3.0)},
                                  labels={"prompt": "プロンプト", "guidance_scale": "ガイダンスの強さ"})
    assert [c.description for c in box.children[:2]] == ["プロンプト", "ガイダンスの強さ"]
    assert seen == [("x", 3.0)]
    widths = {c.style.description_width for c in box.children[:2]}
    assert len(widths) == 1 and float(widths.pop().removesuffix("em")) >= 8   # one width, room for 8 kanji


def test_without_labels_controls_show_their_names():
    box = widgets.generation_explorer(lambda prompt, t, k: "", prompt="HAMLET\n")
    assert [c.description for c in box.children[:3]] == ["prompt", "temperature", "top_k"]


def test_a_label_for_a_control_that_does_not_exist_says_which_exist():
    with pytest.raises(ValueError, match=r"\['t'\]"):
        widgets.timestep_explorer(lambda t: None, labels={"step": "ステップ"})


def test_latent_explorer_gives_whole_number_bounds_an_int_slider():
    seen = []
    box = widgets.latent_explorer(lambda start, t: seen.append((start, t)), {"start": (0, 9, 1, 3), "t": (0.0, 1.0, 0.1, 0.5)})
    start, t = box.children[0], box.children[1]
    assert isinstance(start, ipywidgets.IntSlider) and isinstance(t, ipywidgets.FloatSlider)
    t.value = 0.8
    assert seen == [(3, 0.5), (3, 0.8)]


def test_training_explorer_trains_again_with_each_learning_rate_and_step_count():
    seen = []
    box = widgets.training_explorer(lambda lr, steps: seen.append((round(lr, 6), steps)), lr=0.01, steps=300,
                                    labels={"lr": "学習率", "steps": "ステップ数"})
    lr, steps = box.children[0], box.children[1]
    assert isinstance(lr, ipywidgets.FloatLogSlider) and isinstance(steps, ipywidgets.IntSlider)
    assert (lr.min, lr.max) == pytest.approx((-4, 1)) and [lr.description, steps.description] == ["学習率", "ステップ数"]
    lr.value = 1.0
    steps.value = 50
    assert seen == [(0.01, 300), (1.0, 300), (1.0, 50)]


def test_every_explorer_draws_and_redraws_with_what_its_caller_gives_it():
    """Each explorer of the course, built as its lesson builds it, draws at once and again after its first control
    changes. (Lesson 03's attention_explorer once called its own draw with a name it did not take: inside a
    kernel the Output widget swallowed the TypeError, so only a browser saw it. Outside a kernel it is raised.)"""
    import torch

    calls = []
    cases = {
        "next_word_explorer": lambda: widgets.next_word_explorer(lambda c: calls.append(c) or {"a": 0.6, "b": 0.4},
                                                                 "the"),
        "attention_explorer": lambda: widgets.attention_explorer(
            lambda s: calls.append(s) or ("i built", torch.rand(2, 3), ["i", "built"], ["私", "は", "家"]), "私は家"),
        "timestep_explorer": lambda: widgets.timestep_explorer(calls.append, 1000, 0, 10),
        "latent_explorer": lambda: widgets.latent_explorer(lambda **v: calls.append(v), {"z0": (-3.0, 3.0, 0.1, 0.0)}),
        "generation_explorer": lambda: widgets.generation_explorer(lambda p, t, k: calls.append(p) or " more", "ROMEO"),
        "image_search_explorer": lambda: widgets.image_search_explorer(
            lambda c: calls.append(c) or (torch.rand(2, 3, 8, 8), ["a", "b"]), "a red circle"),
        "prompt_explorer": lambda: widgets.prompt_explorer(lambda **v: calls.append(v), "赤い丸",
                                                           {"guidance_scale": (0.0, 9.0, 0.5, 3.0)}),
        "training_explorer": lambda: widgets.training_explorer(lambda lr, steps: calls.append((lr, steps)), 0.01, 20),
    }
    explorers = {name for name in dir(widgets) if name.endswith("_explorer")}
    assert explorers == set(cases), f"a new explorer needs a case here: {sorted(explorers ^ set(cases))}"
    for name, build in cases.items():
        calls.clear()
        box = build()
        assert len(calls) == 1, name
        first = box.children[0]
        first.value = "x" if isinstance(first.value, str) else first.max
        assert len(calls) == 2, name

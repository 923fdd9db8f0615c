"""Interactive explorers (ipywidgets) that lessons share.

Every explorer is the same pattern: a few controls (a text box, sliders) and an output area that is redrawn
whenever a control changes (`_live`). The explorers below only say which controls, and what to draw.

Each control is labelled with its name (`prompt`, `temperature`, …). `labels={name: text}` shows other words
instead, e.g. the Japanese edition's `labels={"prompt": "プロンプト"}`; the values still reach `draw` by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import clear_output

from shikumi import plot


def _text(value: str, description: str) -> widgets.Text:
    return widgets.Text(value=value, description=description, continuous_update=False,
                        layout=widgets.Layout(width="60%"))


def _slider(description: str, low, high, step, value) -> widgets.Widget:
    """A slider that updates on release: an IntSlider when all four numbers are whole, else a FloatSlider."""
    kind = widgets.IntSlider if all(isinstance(v, int) for v in (low, high, step, value)) else widgets.FloatSlider
    return kind(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                layout=widgets.Layout(width="60%"))


def _log_slider(description: str, low: float, high: float, value: float) -> widgets.FloatLogSlider:
    """A slider over powers of ten, low … high (e.g. a learning rate from 0.0001 to 10), updating on release."""
    return widgets.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.1,
                                  description=description, readout_format=".2g", continuous_update=False,
                                  layout=widgets.Layout(width="60%"))


def _label_width(text: str) -> float:
    """Roughly how wide `text` is on screen, in em: a Japanese character takes one em, a Latin one about half."""
    return 1.0 + sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text)


def _live(controls: Mapping[str, widgets.Widget], draw: Callable[..., None],
          labels: Mapping[str, str] | None = None) -> widgets.VBox:
    """The controls above an output area; `draw(**their values)` runs now and after every change. Whatever
    it prints or plots appears in the output area (plt.show() is called for it). `labels` renames controls on
    screen only."""
    unknown = sorted(set(labels or {}) - set(controls))
    if unknown:
        raise ValueError(f"labels names {unknown}, but this explorer's controls are {sorted(controls)}")
    for name, text in (labels or {}).items():
        controls[name].description = text
    width = max(_label_width(c.description) for c in controls.values())
    for control in controls.values():   # one width for every label, so the boxes and sliders line up
        control.style.description_width = f"{width:.1f}em"
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            draw(**{name: c.value for name, c in controls.items()})
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), out])  # the last value of a cell: Jupyter displays it


def next_word_explorer(next_word_distribution: Callable[[str], Mapping[str, float]], text: str = "",
                       title: str = "P(next word | {text})", top: int = 15,
                       labels: Mapping[str, str] | None = None):
    """Type a context; see the model's distribution over the next word as a bar chart.

    next_word_distribution: maps the typed text to {word: probability}.
    """
    def draw(context):
        dist = next_word_distribution(context)
        if not dist:
            print(f"「{context}」: this context never appears in the training text (every count is 0).")
            return
        plot.bar(dist, title=title.format(text=context), top=top)

    return _live({"context": _text(text, "context")}, draw, labels)


def attention_explorer(explain: Callable[[str], tuple], text: str = "", title: str = "cross-attention",
                       labels: Mapping[str, str] | None = None):
    """Type a sentence; see what an encoder–decoder writes and, as a heatmap, which input words it looked at while
    writing each output word (lesson 03's translator).

    explain: maps the typed text to (output text, weights (rows × columns), row labels, column labels).
    """
    def draw(input):   # the control's name: _live passes each control's value by name
        sentence = input
        output, weights, rows, cols = explain(sentence)
        print(f"{sentence} → {output}")
        if len(rows) and len(cols):
            plot.heatmap(weights, rows, cols, title=title)

    return _live({"input": _text(text, "input")}, draw, labels)


def timestep_explorer(draw: Callable[[int], None], num_train_timesteps: int = 1000, value: int = 0, step: int = 10,
                      labels: Mapping[str, str] | None = None):
    """Drag a slider over the timesteps 0 … T−1; `draw(t)` draws the picture for that t (lesson 07: a digit
    dissolving into noise as t grows)."""
    return _live({"t": _slider("t", 0, num_train_timesteps - 1, step, value)}, lambda t: draw(t), labels)


def latent_explorer(draw: Callable[..., None], sliders: Mapping[str, tuple], labels: Mapping[str, str] | None = None):
    """Move a few sliders; `draw(**values)` draws the picture for those values (lesson 05: walk from one digit's
    latent to another's and watch the decoder's output change).

    sliders: {name: (min, max, step, value)}; whole-number bounds give an IntSlider, others a FloatSlider.
    """
    return _live({name: _slider(name, *spec) for name, spec in sliders.items()}, draw, labels)


def generation_explorer(generate: Callable[[str, float, int], str], prompt: str = "", temperature: float = 0.8,
                        top_k: int = 0, max_top_k: int = 100, labels: Mapping[str, str] | None = None):
    """Edit a prompt, drag temperature and top-k; see freshly generated text each time (lesson 04, slide 25).

    generate: maps (prompt, temperature, top_k) to the text that follows; temperature 0 is greedy, top_k 0 is off.
    """
    controls = {"prompt": _text(prompt, "prompt"), "temperature": _slider("temperature", 0.0, 2.0, 0.1, temperature),
                "top_k": _slider("top_k", 0, max_top_k, 1, top_k)}
    return _live(controls, lambda prompt, temperature, top_k: print(prompt + generate(prompt, temperature, top_k)),
                 labels)


def image_search_explorer(search: Callable[[str], tuple], text: str = "", ncols: int = 8,
                          labels: Mapping[str, str] | None = None):
    """Type a caption; see the images it finds (lesson 06's CLIP retrieval: English or Japanese).

    search: maps the typed text to (images (N, C, H, W), one title per image), best match first.
    """
    def draw(caption):
        images, titles = search(caption)
        plot.image_grid(images, titles, ncols=ncols, title=caption, size=1.5)

    return _live({"caption": _text(text, "caption")}, draw, labels)


def prompt_explorer(draw: Callable[..., None], prompt: str = "", sliders: Mapping[str, tuple] | None = None,
                    labels: Mapping[str, str] | None = None):
    """Type a prompt and move sliders; `draw(prompt=..., **values)` draws what they make (lesson 08: the prompt
    box with a guidance-scale slider, img2img with a strength slider).

    sliders: {name: (min, max, step, value)}, as latent_explorer's.
    """
    controls = {"prompt": _text(prompt, "prompt")}
    controls |= {name: _slider(name, *spec) for name, spec in (sliders or {}).items()}
    return _live(controls, draw, labels)


def training_explorer(train_and_draw: Callable[[float, int], None], lr: float = 0.01, steps: int = 300,
                      lr_range: tuple[float, float] = (1e-4, 10.0), max_steps: int = 2000,
                      labels: Mapping[str, str] | None = None):
    """Pick a learning rate (a slider over powers of ten) and a number of training steps; `train_and_draw(lr,
    steps)` trains a fresh model with them and draws it, as often as it likes while it trains (lesson 00: the
    decision boundary of a small network, bending step by step)."""
    controls = {"lr": _log_slider("lr", *lr_range, lr), "steps": _slider("steps", 10, max_steps, 10, steps)}
    return _live(controls, lambda lr, steps: train_and_draw(lr, steps), labels)

"""Interactive explorers (ipywidgets) that lessons share."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import clear_output

from shikumi import plot


def next_word_explorer(next_word_distribution: Callable[[str], Mapping[str, float]], text: str = "",
                       title: str = "P(next word | {text})", top: int = 15):
    """Type a context; see the model's distribution over the next word as a bar chart.

    next_word_distribution: maps the typed text to {word: probability}.
    """
    box = widgets.Text(value=text, description="context", continuous_update=False,
                       layout=widgets.Layout(width="60%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            dist = next_word_distribution(box.value)
            if not dist:
                print(f"「{box.value}」: this context never appears in the training text (every count is 0).")
                return
            plot.bar(dist, title=title.format(text=box.value), top=top)
            plt.show()

    box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([box, out])  # the last value of a cell: Jupyter displays it


def attention_explorer(explain: Callable[[str], tuple], text: str = "", title: str = "cross-attention"):
    """Type a sentence; see what an encoder–decoder writes and, as a heatmap, which input words it looked at while
    writing each output word (lesson 03's translator).

    explain: maps the typed text to (output text, weights (rows × columns), row labels, column labels).
    """
    box = widgets.Text(value=text, description="input", continuous_update=False,
                       layout=widgets.Layout(width="60%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            output, weights, rows, cols = explain(box.value)
            print(f"{box.value} → {output}")
            if len(rows) and len(cols):
                plot.heatmap(weights, rows, cols, title=title)
                plt.show()

    box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([box, out])


def timestep_explorer(draw: Callable[[int], None], num_train_timesteps: int = 1000, value: int = 0, step: int = 10,
                      description: str = "t"):
    """Drag a slider over the timesteps 0 … T−1; `draw(t)` draws the picture for that t (lesson 07: a digit
    dissolving into noise as t grows)."""
    slider = widgets.IntSlider(value=value, min=0, max=num_train_timesteps - 1, step=step, description=description,
                               continuous_update=False, layout=widgets.Layout(width="70%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            draw(slider.value)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, out])


def latent_explorer(draw: Callable[..., None], sliders: Mapping[str, tuple]):
    """Move a few sliders; `draw(**values)` draws the picture for those values (lesson 05: walk from one digit's
    latent to another's and watch the decoder's output change).

    sliders: {name: (min, max, step, value)}; whole-number bounds give an IntSlider, others a FloatSlider.
    """
    controls = {}
    for name, (low, high, step, value) in sliders.items():
        kind = widgets.IntSlider if all(isinstance(v, int) for v in (low, high, step, value)) else widgets.FloatSlider
        controls[name] = kind(value=value, min=low, max=high, step=step, description=name,
                              continuous_update=False, layout=widgets.Layout(width="60%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            draw(**{name: c.value for name, c in controls.items()})
            plt.show()

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), out])


def generation_explorer(generate: Callable[[str, float, int], str], prompt: str = "", temperature: float = 0.8,
                        top_k: int = 0, max_top_k: int = 100):
    """Edit a prompt, drag temperature and top-k; see freshly generated text each time (lesson 04, slide 25).

    generate: maps (prompt, temperature, top_k) to the text that follows; temperature 0 is greedy, top_k 0 is off.
    """
    box = widgets.Text(value=prompt, description="prompt", continuous_update=False,
                       layout=widgets.Layout(width="60%"))
    temp = widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, description="temperature",
                               continuous_update=False, layout=widgets.Layout(width="60%"))
    k = widgets.IntSlider(value=top_k, min=0, max=max_top_k, step=1, description="top_k",
                          continuous_update=False, layout=widgets.Layout(width="60%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            print(box.value + generate(box.value, temp.value, k.value))

    for control in (box, temp, k):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([box, temp, k, out])


def image_search_explorer(search: Callable[[str], tuple], text: str = "", ncols: int = 8):
    """Type a caption; see the images it finds (lesson 06's CLIP retrieval: English or Japanese).

    search: maps the typed text to (images (N, C, H, W), one title per image), best match first.
    """
    box = widgets.Text(value=text, description="caption", continuous_update=False,
                       layout=widgets.Layout(width="60%"))
    out = widgets.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            images, titles = search(box.value)
            plot.image_grid(images, titles, ncols=ncols, title=box.value, size=1.5)
            plt.show()

    box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([box, out])

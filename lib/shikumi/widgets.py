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

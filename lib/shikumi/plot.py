"""One helper per kind of picture, so every lesson's plots look alike.

Importing this module also sets a Japanese font (IPAexGothic, shipped by matplotlib-fontja), so labels such
as 「むかし」 draw as text rather than empty boxes; what IPAexGothic lacks (≤, ≥) comes from matplotlib's own
DejaVu Sans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt

try:  # registers IPAexGothic and makes it the default family
    import matplotlib_fontja  # noqa: F401

    plt.rcParams["font.family"] = ["IPAexGothic", "DejaVu Sans"]   # a glyph missing from the first: the second
except ImportError:  # plots still work; Japanese labels show as boxes
    pass

plt.rcParams.update({"figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False})


def bar(distribution: Mapping[str, float], title: str = "", xlabel: str = "", ylabel: str = "P",
        top: int = 15, ax=None):
    """A bar chart of a distribution over words (or any labels), largest first."""
    items = sorted(distribution.items(), key=lambda kv: -kv[1])[:top]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 0.55 * len(items) + 1), 3))
    labels = [str(k) for k, _ in items]
    ax.bar(range(len(items)), [v for _, v in items], color="#4C72B0")
    ax.set_xticks(range(len(items)), labels, rotation=45 if max(map(len, labels), default=0) > 3 else 0,
                  ha="right" if max(map(len, labels), default=0) > 3 else "center")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def lines(x: Sequence, series: Mapping[str, Sequence[float]], title: str = "", xlabel: str = "",
          ylabel: str = "", logy: bool = False, ax=None, marker: str | None = "o"):
    """Several curves over the same x: one line per named series, with a marker at every point (marker=None:
    smooth curves, e.g. a function drawn at 200 points, or a loss at every step)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for name, ys in series.items():
        ax.plot(list(x), list(ys), marker=marker, label=name)
    if logy:
        ax.set_yscale("log")
    for setter, text in ((ax.set_title, title), (ax.set_xlabel, xlabel), (ax.set_ylabel, ylabel)):
        if text:  # a second call on the same axes keeps the first call's labels
            setter(text)
    ax.legend()
    return ax


def heatmap(matrix, row_labels: Sequence[str], col_labels: Sequence[str], title: str = "",
            fmt: str = "{:.2f}", ax=None, signed: bool = False):
    """A labelled matrix with its values written in the cells (slide 32's attention table). signed=True for
    numbers of both signs (weights, embeddings): red positive, blue negative, white 0."""
    import numpy as np

    matrix = np.asarray(matrix, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.8 * len(col_labels) + 1.5, 0.6 * len(row_labels) + 1))
    if signed:
        limit = float(np.abs(matrix).max()) if matrix.size else 1.0
        ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        ax.imshow(matrix, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(col_labels)), col_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.xaxis.tick_top()
    threshold = (np.abs(matrix) if signed else matrix).max() * 0.6 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            strong = (abs(matrix[i, j]) if signed else matrix[i, j]) > threshold
            ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", color="white" if strong else "black")
    ax.set_title(title, pad=1.6 * plt.rcParams["font.size"] + 10)   # above the column labels, not on them
    return ax


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, title: str = "",
               size: float = 1.4, value_range: tuple[float, float] = (0.0, 1.0)):
    """Images side by side: a tensor/array (N, C, H, W) with C = 1 (grey) or 3 (RGB), values in value_range.

    Diffusion works in [-1, 1]: pass value_range=(-1, 1) and the images are shown as they will look."""
    import numpy as np

    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=float)
    lo, hi = value_range
    images = np.clip((images - lo) / (hi - lo), 0, 1)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i]
            if img.shape[0] == 1:
                ax.imshow(img[0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img.transpose(1, 2, 0))
            if titles is not None and i < len(titles):
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter(points, labels: Sequence, title: str = "", xlabel: str = "", ylabel: str = "", ax=None):
    """Points in 2-D (N, 2), coloured by label, with a legend: e.g. latents or embeddings squeezed to 2-D (PCA)."""
    import numpy as np

    points = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=float)
    labels = [str(v.item() if hasattr(v, "item") else v) for v in labels]
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    for i, name in enumerate(sorted(set(labels), key=lambda s: (len(s), s))):
        mask = np.array([lab == name for lab in labels])
        ax.scatter(points[mask, 0], points[mask, 1], s=10, alpha=0.7, color=plt.cm.tab10(i % 10), label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(markerscale=2, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def image_text_matrix(matrix, images, texts: Sequence[str], title: str = "", fmt: str = "{:.2f}"):
    """CLIP's picture (slide 46): one image per row, drawn at the left; one text per column, along the top; in each
    cell how similar they are. matrix: (len(images), len(texts)), e.g. cosines in [-1, 1]: red similar, blue opposite."""
    import numpy as np

    matrix = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=float)
    images = np.clip(np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=float), 0, 1)
    n, m = matrix.shape
    limit = max(1.0, float(np.abs(matrix).max())) if matrix.size else 1.0
    _, ax = plt.subplots(figsize=(0.75 * m + 2.0, 0.75 * n + 2.4))
    ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=(-0.5, m - 0.5, n - 0.5, -0.5))
    for i in range(n):
        img = images[i]
        ax.imshow(img.transpose(1, 2, 0) if img.shape[0] == 3 else img[0], cmap="gray", vmin=0, vmax=1,
                  extent=(-1.45, -0.55, i + 0.45, i - 0.45))
        for j in range(m):
            ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if abs(matrix[i, j]) > 0.6 * limit else "black")
    ax.set_xlim(-1.5, m - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xticks(range(m), list(texts), rotation=40, ha="left", rotation_mode="anchor", fontsize=8)
    ax.set_yticks([])
    ax.xaxis.tick_top()
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, pad=10)
    return ax



def tokens(rows: Mapping[str, Sequence[str]], title: str = "", width: float = 9.0):
    """Texts cut into tokens, one coloured box per token (like OpenAI's tokenizer page): {row label: pieces}.

    Spaces show as ␣. A piece that is only part of a character (bytes such as "\\xe3") is drawn in grey. Rows
    wrap at the figure's width (inches)."""
    colors = ["#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1"]
    fig = plt.figure(figsize=(width, 1.0))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)                          # x in inches
    renderer = fig.canvas.get_renderer()
    gap, line_height = 0.12, 0.34
    y = 0.0                                        # in lines, going down
    for label, pieces in rows.items():
        ax.text(0, -y, label, fontsize=9, va="center", color="#444444")
        x, y = 0.0, y + 1
        for k, piece in enumerate(pieces):
            shown = piece.replace(" ", "␣").replace("\n", "↵")
            box = {"boxstyle": "round,pad=0.18", "linewidth": 0,
                   "facecolor": "#e0e0e0" if "\\x" in piece else colors[k % len(colors)]}
            text = ax.text(x + 0.04, -y, shown, fontsize=11, va="center", ha="left", bbox=box)
            w = text.get_window_extent(renderer).width / fig.dpi
            if x > 0 and x + w + gap > width:      # no room left on this line: start the next one
                x, y = 0.0, y + 1
                text.set_position((x + 0.04, -y))
            x += w + gap
        y += 1.3
    fig.set_size_inches(width, line_height * y + (0.4 if title else 0.1))
    ax.set_ylim(-y + 0.6, 0.7 + (1.0 if title else 0))
    ax.axis("off")
    if title:
        ax.text(0, 1.2, title, fontsize=12, va="center")


# -- lesson 00: tensors, fitting a line, descending a loss, classifying points ----------------------------------


def _numpy(x):
    import numpy as np

    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)


def tensors(items: Sequence, title: str = "", fmt: str = "{:g}", ax=None):
    """Tensors as grids of boxes, one number per box, side by side with their shapes written under them: a
    picture of shapes. items: tensors (0-D, 1-D or 2-D), (name, tensor) pairs, and strings drawn between them
    as operators, e.g. [("A", a), "@", ("B", b), "=", a @ b]. A 1-D tensor of shape (n,) is drawn as a row."""
    import numpy as np
    from matplotlib.patches import Rectangle

    grids = []
    for item in items:
        if isinstance(item, str):
            grids.append((item, None, None))
            continue
        name, t = item if isinstance(item, tuple) else ("", item)
        values = _numpy(t)
        if values.ndim > 2:
            raise ValueError(f"plot.tensors draws tensors of at most 2 dimensions, not shape {values.shape}")
        grids.append((name, values.reshape(values.shape[0] if values.ndim == 2 else 1, -1), tuple(values.shape)))
    height = max((g.shape[0] for _, g, _ in grids if g is not None), default=1)
    width = sum(g.shape[1] + 1 for _, g, _ in grids if g is not None) + sum(0.8 for _, g, _ in grids if g is None)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(14, 0.55 * width + 1), 0.55 * height + 1.3))
    x = 0.0
    for name, grid, shape in grids:
        if grid is None:                                            # an operator between two tensors
            ax.text(x + 0.15, height / 2, name, ha="center", va="center", fontsize=16)
            x += 0.8
            continue
        rows, cols = grid.shape
        top = (height - rows) / 2                                   # centred vertically
        limit = np.abs(grid).max() or 1.0
        for i in range(rows):
            for j in range(cols):
                shade = plt.cm.Blues(0.15 + 0.5 * abs(grid[i, j]) / limit)
                ax.add_patch(Rectangle((x + j, top + i), 1, 1, facecolor=shade, edgecolor="#333333"))
                ax.text(x + j + 0.5, top + i + 0.5, fmt.format(grid[i, j]), ha="center", va="center", fontsize=9)
        ax.text(x + cols / 2, top + rows + 0.25, f"{name}  {shape}".strip(), ha="center", va="top", fontsize=10)
        x += cols + 1
    ax.set_xlim(-0.3, x - 0.7)
    ax.set_ylim(height + 1.1, -0.4)                                 # row 0 at the top, like a printed matrix
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def line_fit(x, y, w: float, b: float, title: str = "", xlabel: str = "", ylabel: str = "", ax=None):
    """Points (x, y), the line w·x + b, and each point's miss (the vertical gap to the line) as a red segment:
    what a loss adds up."""
    x, y = _numpy(x), _numpy(y)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    pred = w * x + b
    ax.vlines(x, pred, y, color="#C44E52", alpha=0.7, linewidth=1.2)
    ax.scatter(x, y, s=18, color="#4C72B0", zorder=3)
    ends = [x.min(), x.max()]
    ax.plot(ends, [w * e + b for e in ends], color="black", linewidth=1.5)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def descent(weights, losses, path_weights, path_losses, title: str = "", xlabel: str = "w", ylabel: str = "",
            ax=None):
    """A loss as a curve over one weight (weights, losses), and the steps gradient descent took on it: numbered
    dots joined by arrows."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.2))
    ax.plot(_numpy(weights), _numpy(losses), color="gray")
    px, py = _numpy(path_weights), _numpy(path_losses)
    for i in range(len(px) - 1):
        ax.annotate("", xy=(px[i + 1], py[i + 1]), xytext=(px[i], py[i]),
                    arrowprops={"arrowstyle": "->", "color": "#C44E52", "lw": 1})
    ax.scatter(px, py, s=16, color="#C44E52", zorder=3)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def decision_boundary(predict, points, labels, title: str = "", resolution: int = 120, ax=None):
    """Which class a model gives every place of the plane, with the points on top: predict maps an (M, 2)
    float32 tensor of places to (M,) probabilities of class 1. Blue: class 0, orange: class 1; the black line is
    where the model is 50–50, its decision boundary (nan, from a training run that blew up, counts as 50–50)."""
    import numpy as np
    import torch
    from matplotlib.colors import LinearSegmentedColormap

    xy = _numpy(points)
    margin = 0.3
    (x0, y0), (x1, y1) = xy.min(0) - margin, xy.max(0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)   # (resolution², 2)
    with torch.no_grad():
        p = _numpy(predict(grid)).reshape(gx.shape)                                   # (resolution, resolution)
    p = np.nan_to_num(p, nan=0.5)                     # a model whose numbers blew up (nan) draws as 50–50
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.6))
    colors = LinearSegmentedColormap.from_list("course", ["#4C72B0", "white", "#DD8452"])
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap=colors, alpha=0.55)
    if p.min() < 0.5 < p.max():
        ax.contour(gx, gy, p, levels=[0.5], colors="black", linewidths=1.2)
    cls = np.asarray(_numpy(labels), dtype=int)
    size = min(40, max(9, 3000 / max(1, len(xy))))                 # a few points drawn bigger than many
    for c, color in ((0, "#4C72B0"), (1, "#DD8452")):
        ax.scatter(xy[cls == c, 0], xy[cls == c, 1], s=size, color=color, edgecolors="white", linewidths=0.4)
    ax.set(title=title, xlim=(x0, x1), ylim=(y0, y1), xticks=[], yticks=[])
    ax.set_aspect("equal")
    return ax


def batches(order, batch_size: int, title: str = "", row_label: str = "epoch {i}", step_label: str = "step {s}",
            ax=None):
    """How training walks through the data: one row per epoch, the example numbers in the order seen, each batch
    (one step) in its own colour with its step number above. order: (epochs, N) example indices."""
    from matplotlib.patches import Rectangle

    order = _numpy(order).astype(int)
    epochs, n = order.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * n + 1.6, 0.9 * epochs + 0.6))
    step = 0
    for e in range(epochs):
        y = 1.5 * e
        for start in range(0, n, batch_size):
            color = plt.cm.Pastel1(step % 9)
            width = min(batch_size, n - start)
            for j in range(start, start + width):
                ax.add_patch(Rectangle((j, y), 1, 1, facecolor=color, edgecolor="#555555"))
                ax.text(j + 0.5, y + 0.5, str(order[e, j]), ha="center", va="center", fontsize=9)
            ax.text(start + width / 2, y - 0.12, step_label.format(s=step + 1), ha="center", va="bottom", fontsize=8)
            step += 1
        ax.text(-0.3, y + 0.5, row_label.format(i=e + 1), ha="right", va="center", fontsize=10)
    ax.set_xlim(-2.6, n + 0.2)
    ax.set_ylim(1.5 * epochs - 0.3, -0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def flow(rows: Mapping[str, Sequence[str]], title: str = "", width: float = 11.0, row_height: float = 1.1):
    """Pipelines drawn as boxes joined by arrows, one row each: {row label: [box text, ...]} (lesson 10: InstructGPT's
    steps against DPO's). Boxes in the same position of two rows line up; an empty text "" leaves its place blank and
    the arrow jumps over it. A box's text may hold line breaks."""
    columns = max(len(boxes) for boxes in rows.values())
    label_width = 1.6
    column_width = (width - label_width) / columns
    height = len(rows) * row_height + (0.5 if title else 0.1)
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(-height + (0.5 if title else 0.1), 0.5 if title else 0.1)
    ax.axis("off")
    colors = ["#dadaeb", "#c6dbef", "#fdd0a2", "#fcbba1", "#c7e9c0", "#e0e0e0"]
    for r, (label, boxes) in enumerate(rows.items()):
        y = -(r + 0.5) * row_height
        ax.text(0.05, y, label, fontsize=10, va="center", ha="left")
        previous = None
        for i, text in enumerate(boxes):
            if not text:
                continue
            x = label_width + (i + 0.5) * column_width
            ax.text(x, y, text, ha="center", va="center", fontsize=9, wrap=True,
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": colors[i % len(colors)], "linewidth": 0})
            if previous is not None:
                ax.annotate("", xy=(x - 0.42 * column_width, y), xytext=(previous + 0.42 * column_width, y),
                            arrowprops={"arrowstyle": "->", "color": "#555555", "linewidth": 1.4})
            previous = x
    if title:
        ax.text(0.05, 0.2, title, fontsize=12, va="center")
    return ax


def bars(groups: Mapping[str, Mapping[str, float]], title: str = "", ylabel: str = "", percent: bool = False, ax=None):
    """Grouped bars: {group: {series: value}}, one colour per series, the value written on each bar (lesson 10: what
    the base, the SFT and the DPO model score on each measure). percent=True shows values in [0, 1] as 0–100 %."""
    series = list(dict.fromkeys(name for values in groups.values() for name in values))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * len(series) / 2 + 2), 3.2))
    width = 0.8 / max(1, len(series))
    for j, name in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(groups))]
        ys = [values.get(name, 0.0) for values in groups.values()]
        drawn = ax.bar(xs, ys, width=width * 0.95, label=name, color=plt.cm.tab10(j % 10))
        ax.bar_label(drawn, labels=[f"{y:.0%}" if percent else f"{y:.2f}" for y in ys], fontsize=8, padding=1)
    ax.set_xticks(range(len(groups)), list(groups))
    if percent:
        ax.set_ylim(0, 1.12)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set(title=title, ylabel=ylabel)
    ax.legend(fontsize=8)
    return ax

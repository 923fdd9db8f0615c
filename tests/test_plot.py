"""shikumi.plot, lesson 00's pictures: each draws what its docstring promises (boxes, numbers, shapes, misses,
boundaries), checked on the artists it leaves on the axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from shikumi import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_tensors_draws_one_box_per_number_and_each_shape():
    a, b = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]), torch.arange(12.0).view(3, 4)
    ax = plot.tensors([("A", a), "@", ("B", b), "=", a @ b])
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 6 + 12 + 8
    shown = texts(ax)
    assert "A  (2, 3)" in shown and "B  (3, 4)" in shown and "(2, 4)" in shown
    assert "@" in shown and "=" in shown
    assert all(f"{v:g}" in shown for v in (a @ b).flatten().tolist())


def test_tensors_shows_scalars_and_vectors_by_their_shapes():
    ax = plot.tensors([("t", torch.tensor(21.5)), ("week", torch.tensor([21.5, 23.0]))])
    assert "t  ()" in texts(ax) and "week  (2,)" in texts(ax)
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        plot.tensors([torch.zeros(2, 2, 2)])


def test_line_fit_draws_each_miss():
    x, y = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 4.0, 2.0])
    ax = plot.line_fit(x, y, w=1.0, b=1.0)                 # the line gives 1, 2, 3: misses 0, 2, 1
    segments = ax.collections[0].get_segments()
    assert sorted(abs(s[1][1] - s[0][1]) for s in segments) == pytest.approx([0.0, 1.0, 2.0])


def test_descent_joins_the_steps_with_arrows():
    ax = plot.descent(np.linspace(-1, 1, 50), np.linspace(-1, 1, 50) ** 2, [1.0, -0.5, 0.2], [1.0, 0.25, 0.04])
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 2


def test_decision_boundary_draws_where_the_model_is_50_50():
    points = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    labels = torch.tensor([0, 1, 0, 1])
    seen = []

    def predict(places):                                   # class 1 right of x = 0.25
        seen.append((places.shape, places.dtype))
        return torch.sigmoid(20 * (places[:, 0] - 0.25))

    ax = plot.decision_boundary(predict, points, labels, resolution=60)
    assert seen == [((3600, 2), torch.float32)]
    boundary = ax.collections[-3].get_paths()[0].vertices  # the black 0.5 line, drawn before the two classes
    assert np.allclose(boundary[:, 0], 0.25, atol=0.05)


def test_decision_boundary_without_a_boundary_draws_no_line():
    points, labels = torch.randn(10, 2), torch.arange(10) % 2
    ax = plot.decision_boundary(lambda places: torch.full((len(places),), 0.9), points, labels, resolution=20)
    assert len(ax.collections) == 1 + 2                    # the filled map, then one scatter per class


def test_batches_numbers_every_step_across_epochs():
    order = torch.stack([torch.randperm(10), torch.randperm(10)])
    ax = plot.batches(order, batch_size=4, row_label="epoch {i}", step_label="step {s}")
    shown = texts(ax)
    assert len([p for p in ax.patches if isinstance(p, Rectangle)]) == 20
    assert [t for t in shown if t.startswith("step")] == [f"step {s}" for s in range(1, 7)]   # 3 batches per epoch
    assert [t for t in shown if t.startswith("epoch")] == ["epoch 1", "epoch 2"]


def test_lines_can_draw_smooth_curves():
    ax = plot.lines([0, 1, 2], {"a": [0, 1, 4]}, marker=None)
    assert ax.lines[0].get_marker() in (None, "None", "")
    assert plot.lines([0, 1], {"a": [0, 1]}).lines[0].get_marker() == "o"


def test_decision_boundary_of_a_model_that_blew_up_is_all_50_50():
    points, labels = torch.randn(10, 2), torch.arange(10) % 2
    ax = plot.decision_boundary(lambda places: torch.full((len(places),), float("nan")), points, labels,
                                resolution=20)
    assert len(ax.collections) == 1 + 2                    # a plain map and the points: no boundary, no error


def test_signed_heatmap_centres_its_colours_on_zero():
    ax = plot.heatmap([[-2.0, 1.0], [0.5, 2.0]], ["a", "b"], ["0", "1"], signed=True)
    image = ax.images[0]
    assert image.get_clim() == (-2.0, 2.0) and image.get_cmap().name == "RdBu_r"
    assert [t.get_color() for t in ax.texts] == ["white", "black", "black", "white"]


def test_japanese_and_the_signs_ipaexgothic_lacks_both_draw():
    """A title in Japanese with ≤ and ≥ (goal lines say "goal ≤ 0.004"): every glyph is found in some font, no
    empty box (matplotlib warns "Glyph … missing" for each one it could not draw)."""
    import warnings

    pytest.importorskip("matplotlib_fontja")
    fig, ax = plt.subplots()
    ax.set_title("目標 ≤ 0.004、≥ 80 % → ε")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]

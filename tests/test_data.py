"""shikumi.data: the fairy tales, Japanese tokenisation, and Shakespeare."""

from __future__ import annotations

import pytest

from shikumi import data


@pytest.fixture(scope="module")
def tales():
    return data.load_tales()


def test_at_least_twelve_tales(tales):
    assert len(tales) >= 12


def test_every_tale_opens_like_the_slide(tales):
    for tale in tales:
        assert tale.sentences, tale.title
        assert tale.sentences[0].startswith("むかしむかし、あるところに"), tale.title


def test_tales_have_titles_and_several_sentences(tales):
    titles = [t.title for t in tales]
    assert all(titles) and len(set(titles)) == len(titles)
    assert all(not t.startswith("#") for t in titles)
    assert all(len(t.sentences) >= 3 for t in tales)
    assert all(not s.startswith("#") for t in tales for s in t.sentences)


def test_tokenize_ja_glues_auxiliaries():
    assert data.tokenize_ja("おじいさんがいました。") == ["おじいさん", "が", "いました", "。"]


def test_tokenize_ja_glues_te_form():
    # 行って (not 行っ / て): the connective て joins the verb
    words = data.tokenize_ja("山へ行って、")
    assert "行って" in words
    assert "て" not in words


def test_tokenize_ja_keeps_all_characters():
    text = "むかしむかし、あるところに、おばあさんがいました。"
    assert "".join(data.tokenize_ja(text)) == text


def test_mukashibanashi_splits_partition_all():
    every = data.mukashibanashi("all")
    train = data.mukashibanashi("train")
    heldout = data.mukashibanashi("heldout")
    assert len(train) + len(heldout) == len(every)
    assert len(heldout) == len(every) // 5
    # disjoint by index: sentence i goes to heldout iff i % 5 == 4
    expected_train = [s for i, s in enumerate(every) if i % 5 != 4]
    expected_heldout = [s for i, s in enumerate(every) if i % 5 == 4]
    assert train == expected_train
    assert heldout == expected_heldout


def test_mukashibanashi_sentences_are_word_lists():
    every = data.mukashibanashi()
    assert every and all(isinstance(s, list) and s for s in every)
    assert all(isinstance(w, str) and w for s in every for w in s)
    assert every[0][0].startswith("むかし")


def test_mukashibanashi_returns_fresh_lists():
    first = data.mukashibanashi("all")
    first[0].append("改変")
    assert data.mukashibanashi("all")[0][-1] != "改変"


def test_mukashibanashi_rejects_unknown_split():
    with pytest.raises(ValueError, match="split must be"):
        data.mukashibanashi("test")


def test_shakespeare_has_38_plays_with_hamlet():
    plays = data.shakespeare_plays()
    assert len(plays) == 38
    assert "hamlet" in plays
    assert "macbeth" in plays
    assert list(plays) == sorted(plays)


def test_shakespeare_is_big():
    assert sum(len(t) for t in data.shakespeare_plays().values()) > 4_500_000
    assert len(data.shakespeare()) > 4_500_000


def test_shakespeare_markdown_is_stripped():
    hamlet = data.shakespeare(["hamlet"])
    assert "Hamlet" in hamlet or "HAMLET" in hamlet
    assert "**" not in hamlet
    assert not any(line.startswith("#") for line in hamlet.splitlines())


def test_shakespeare_selected_plays_are_joined():
    plays = data.shakespeare_plays()
    assert data.shakespeare(["hamlet", "macbeth"]) == plays["hamlet"] + "\n" + plays["macbeth"]


def test_shakespeare_unknown_play_raises_helpful_key_error():
    with pytest.raises(KeyError) as info:
        data.shakespeare(["nonexistent"])
    message = str(info.value)
    assert "nonexistent" in message
    assert "hamlet" in message  # it lists the plays to choose from


def test_tokenize_en():
    assert data.tokenize_en("To be, or not to be: that is the question.") == [
        "to", "be", ",", "or", "not", "to", "be", ":", "that", "is", "the", "question", ".",
    ]


def test_tokenize_en_keeps_apostrophes_inside_words():
    assert data.tokenize_en("O'er the hill, I'll go!") == ["o'er", "the", "hill", ",", "i'll", "go", "!"]


# -- points in the plane (lesson 00) ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", data.POINT_KINDS)
def test_points_2d_shapes_balance_and_seed(kind):
    import torch

    points, labels = data.points_2d(101, kind, seed=3)
    assert points.shape == (101, 2) and points.dtype == torch.float32
    assert labels.shape == (101,) and labels.dtype == torch.int64
    assert labels[:6].tolist() == [0, 1, 0, 1, 0, 1] and labels.sum().item() == 50
    assert points.abs().max() < 2.0
    again, _ = data.points_2d(101, kind, seed=3)
    other, _ = data.points_2d(101, kind, seed=4)
    assert torch.equal(points, again) and not torch.equal(points, other)


@pytest.mark.parametrize("kind, gap", [("moons", 0.45), ("circles", 0.35), ("spiral", 0.25)])
def test_points_2d_classes_apart_yet_no_straight_line_separates_them(kind, gap):
    """What lesson 00 says: without noise the two classes never touch, yet the best straight line (least squares)
    misclassifies more than 1 point in 10: a network needs a hidden layer to bend its boundary."""
    import torch

    points, labels = data.points_2d(1000, kind, noise=0.0)
    assert torch.cdist(points[labels == 0], points[labels == 1]).min() > gap
    points, labels = data.points_2d(1000, kind, noise=0.1)
    X = torch.cat([points, torch.ones(len(points), 1)], dim=1)                 # (n, 3): x, y and a bias
    w = torch.linalg.lstsq(X, (2 * labels.float() - 1)[:, None]).solution     # the best line, by least squares
    accuracy = ((X @ w).squeeze(1) > 0).eq(labels.bool()).float().mean()
    assert accuracy < 0.9


def test_points_2d_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="moons"):
        data.points_2d(10, "stars")

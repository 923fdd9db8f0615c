"""shikumi.selfcheck: the messages a learner reads after each exercise, in the lesson's language."""

import pytest

from shikumi import selfcheck
from shikumi.selfcheck import expect, passed, set_language


@pytest.fixture(autouse=True)
def english_again():
    yield
    set_language("en")


def test_a_right_answer_prints_a_tick(capsys):
    expect(0.5, 0.5, "P(b | a)")
    assert capsys.readouterr().out == "✓ P(b | a) = 0.5\n"


def test_a_wrong_answer_says_expected_got_and_the_hint():
    with pytest.raises(AssertionError) as info:
        expect(0.25, 0.5, "P(b | a)", "Divide by C(a).")
    assert str(info.value) == "P(b | a): expected 0.5, got 0.25. Divide by C(a)."


def test_none_reminds_of_return():
    with pytest.raises(AssertionError, match="did you forget `return`"):
        expect(None, 0.5, "P(b | a)")


def test_japanese_edition_gets_japanese_fixed_words(capsys):
    set_language("ja")
    with pytest.raises(AssertionError) as info:
        expect(None, 0.5, "P(b | a)", "C(a) で割ります。")
    assert str(info.value) == ("P(b | a)：期待される値は 0.5、返ってきた値は None です。"
                               " 関数が None を返しました。`return` を書き忘れていませんか？ C(a) で割ります。")
    passed("Exercise 7.1")
    assert capsys.readouterr().out == "🎉 演習 7.1：セルフチェックはすべて合格です\n"


def test_every_language_has_every_message():
    assert {k for words in selfcheck.MESSAGES.values() for k in words} == set(selfcheck.MESSAGES["en"])
    assert all(set(words) == set(selfcheck.MESSAGES["en"]) for words in selfcheck.MESSAGES.values())


def test_an_unknown_language_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"\['en', 'ja'\]"):
        set_language("fr")


def _raised(code, language="en") -> str:
    set_language(language)
    with pytest.raises(AssertionError) as info:
        with selfcheck.explained("predict(x, w, b)"):
            code()
    return str(info.value)


def test_an_error_comes_with_what_it_usually_means():
    import torch

    message = _raised(lambda: torch.ones(3, 2) @ torch.ones(3))
    assert message.startswith("predict(x, w, b) raised RuntimeError: ")
    assert "Print the .shape of each tensor" in message
    assert _raised(lambda: (_ for _ in ()).throw(NotImplementedError("Exercise 0.1: predict — replace this line"))) == (
        "predict(x, w, b): not written yet. Replace the exercise's `raise NotImplementedError(...)` line with your code.")
    assert "lost its link to the weights" in _raised(lambda: torch.tensor(1.0).backward())
    assert "from 0 to size − 1" in _raised(lambda: torch.ones(3)[5])
    assert "cells above this one" in _raised(lambda: undefined_name)  # noqa: F821
    assert "a list where a tensor is needed" in _raised(lambda: torch.ones(3) + [1])


def test_an_explained_error_in_japanese_keeps_the_original_attached():
    import torch

    with pytest.raises(AssertionError) as info:
        set_language("ja")
        with selfcheck.explained("predict(x, w, b)"):
            torch.ones(3, 2) @ torch.ones(3)
    assert str(info.value).startswith("predict(x, w, b) でエラー RuntimeError: ")
    assert "形状が合っていません" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_failed_expect_inside_explained_is_left_alone():
    with pytest.raises(AssertionError, match="expected 0.5, got 0.25"):
        with selfcheck.explained("f()"):
            expect(0.25, 0.5, "f()")


def test_expect_shape_names_the_shapes_and_the_hint_for_that_shape(capsys):
    import torch

    selfcheck.expect_shape(torch.zeros(3), (3,), "predict(x, w, b)")
    assert capsys.readouterr().out == "✓ predict(x, w, b) = (3,)\n"
    hints = {(3, 2): "x * w keeps (3, 2): add each row up."}
    with pytest.raises(AssertionError) as info:
        selfcheck.expect_shape(torch.zeros(3, 2), (3,), "predict(x, w, b)", hints)
    assert str(info.value) == "predict(x, w, b): expected shape (3,), got shape (3, 2). x * w keeps (3, 2): add each row up."
    with pytest.raises(AssertionError, match="got shape \\(3, 1\\)\\.$"):
        selfcheck.expect_shape(torch.zeros(3, 1), (3,), "predict(x, w, b)", hints)   # no hint for that one


def test_expect_shape_of_something_that_is_no_tensor():
    with pytest.raises(AssertionError, match="forget `return`"):
        selfcheck.expect_shape(None, (), "mse_loss(pred, target)")
    set_language("ja")
    with pytest.raises(AssertionError) as info:
        selfcheck.expect_shape(0.5, (), "mse_loss(pred, target)", "テンソルのまま返します。")
    assert str(info.value) == ("mse_loss(pred, target)：期待されるのは形状 () のテンソルですが、返ってきた値は 0.5 です。"
                               " テンソルのまま返します。")
    with pytest.raises(AssertionError, match="です。 .item\\(\\) を使いません。$"):
        selfcheck.expect_shape(0.5, (), "mse_loss(pred, target)", {float: ".item() を使いません。", (4,): "平均します。"})

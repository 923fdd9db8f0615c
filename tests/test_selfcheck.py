"""shikumi.course.selfcheck: the messages a learner reads after each exercise, in the lesson's language."""

import re

import pytest

from shikumi.course import selfcheck
from shikumi.course.selfcheck import expect, expect_close, passed, set_language


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


# -- expect_close: tensors, in the grader's own words ---------------------------------------------------------

def test_expect_close_ticks_a_close_tensor(capsys):
    torch = pytest.importorskip("torch")
    expect_close(torch.tensor([0.1, 0.2]) + 1e-7, torch.tensor([0.1, 0.2]), "softmax([1, 2])")
    assert capsys.readouterr().out == "✓ softmax([1, 2])\n"


@pytest.mark.parametrize("got, message", [
    (None, "x: expected a tensor, got None. Your function returned None: did you forget `return`? Hint."),
    ([0.5, 0.5], "x: expected a tensor, got list ([0.5, 0.5]). Hint."),
    ("shape", "x: expected a tensor of shape (2, 3), got shape (3, 2). Hint."),
    ("nan", "x: the result contains NaN (not a number), which usually comes from 0 / 0"),
    ("values", "x: values differ from the expected ones by up to 0.5 (at index (1, 2): expected 1, got 1.5). Hint."),
])
def test_expect_close_names_the_first_thing_wrong(got, message):
    """The type, then the shape (its own message), then NaN, then the largest difference and where it is."""
    torch = pytest.importorskip("torch")
    want = torch.ones(2, 3)
    got = {"shape": torch.ones(3, 2), "nan": torch.full((2, 3), float("nan")),
           "values": torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.5]])}.get(got, got) if isinstance(got, str) else got
    with pytest.raises(AssertionError) as info:
        expect_close(got, want, "x", "Hint.")
    assert str(info.value).startswith(message), str(info.value)


def test_expect_close_of_one_number_has_no_index():
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError) as info:
        expect_close(torch.tensor(8.0), torch.tensor(16.0), "kl_divergence(mu, logvar)")
    assert str(info.value) == "kl_divergence(mu, logvar): expected 16, got 8."


def test_a_named_mistake_replaces_the_general_hint():
    torch = pytest.importorskip("torch")
    want = torch.tensor([0.25, 0.75])
    mistakes = [(torch.tensor([0.5, 0.5]), "Not this one."), (want * 2, "You doubled it.")]
    with pytest.raises(AssertionError) as info:
        expect_close(want * 2, want, "p", "Divide by the sum.", mistakes=mistakes)
    assert str(info.value).endswith("You doubled it.") and "Divide by the sum" not in str(info.value)
    with pytest.raises(AssertionError) as info:
        expect_close(want + 1, want, "p", "Divide by the sum.", mistakes=mistakes)
    assert str(info.value).endswith("Divide by the sum.")


def test_expect_names_a_mistake_too():
    with pytest.raises(AssertionError) as info:
        expect(3, 4, "number of bigrams", "Count every window.", mistakes=[(3, "The last window is missing.")])
    assert str(info.value) == "number of bigrams: expected 4, got 3. The last window is missing."


def test_the_self_check_and_the_grader_say_a_difference_alike():
    """The same tensors give the same sentence from expect_close and from the hidden checks' array_problem."""
    torch = pytest.importorskip("torch")
    from autograder.checks import array_problem, shape_problem
    from shikumi.lang import speaking

    want, got = torch.zeros(2, 2), torch.tensor([[0.0, 0.0], [0.25, 0.0]])
    for lang in ("en", "ja"):
        set_language(lang)
        with speaking(lang):
            for value, grader in ((got, array_problem(got, want, "f(x)")),
                                  (torch.zeros(4), shape_problem("f(x)", (2, 2), (4,)))):
                with pytest.raises(AssertionError) as info:
                    expect_close(value, want, "f(x)")
                assert str(info.value) == grader
    assert "インデックス (1, 0) で" in grader or "形は (2, 2)" in grader


def test_japanese_expect_close():
    torch = pytest.importorskip("torch")
    set_language("ja")
    with pytest.raises(AssertionError) as info:
        expect_close(torch.ones(3), torch.ones(2), "x", "形を確かめます。")
    assert str(info.value) == "x：期待される形は (2,) ですが、返ってきたテンソルの形は (3,) です。 形を確かめます。"



@pytest.mark.parametrize("lang, shape, largest", [
    ("en", "x: expected a tensor of shape (2, 3), got shape (3, 2). Hint.",
     "x: values differ from the expected ones by up to 0.7 (at index (1, 2): expected 0, got -0.7). Hint."),
    ("ja", "x：期待される形は (2, 3) ですが、返ってきたテンソルの形は (3, 2) です。 Hint.",
     "x：値が期待される値から最大 0.7 ずれています（インデックス (1, 2) で、期待される値は 0、返ってきた値は -0.7 です）。 Hint."),
])
def test_expect_close_says_the_shape_first_then_the_largest_difference_and_where(lang, shape, largest):
    """A tensor of the wrong shape gets the shape alone, however wrong its values; one of the right shape gets the
    largest of its differences (not the first one), with its index and both values, in the edition's language."""
    torch = pytest.importorskip("torch")
    set_language(lang)
    want = torch.zeros(2, 3)
    with pytest.raises(AssertionError) as info:
        expect_close(torch.full((3, 2), 9.0), want, "x", "Hint.")
    assert str(info.value) == shape
    got = torch.zeros(2, 3)
    got[0, 1], got[1, 0], got[1, 2] = 0.1, 0.3, -0.7
    with pytest.raises(AssertionError) as info:
        expect_close(got, want, "x", "Hint.")
    assert str(info.value) == largest


# -- a raw error gets a sentence on what it usually means ------------------------------------------------------

@pytest.mark.parametrize("error, message, words", [
    ("IndexError", "index 4 is out of bounds for dimension 1 with size 4", ["one past the end", "0 to 3", "− 1"]),
    ("IndexError", "index 9 is out of bounds for dimension 0 with size 4", ["outside the tensor", "0 to 3"]),
    ("RuntimeError", "The size of tensor a (7) must match the size of tensor b (5) at non-singleton dimension 2",
     ["keepdim=True", ".shape"]),
    ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x3)", ["transpose"]),
    ("RuntimeError", "view size is not compatible with input tensor's size and stride (at least one dimension "
                     "spans across two contiguous subspaces). Use .reshape(...) instead.", [".reshape"]),
    ("ZeroDivisionError", "division by zero", ["count of 0"]),
    ("NameError", "name 'softmax' is not defined", ["softmax is not defined", "run the cells above"]),
    ("OSError", "something else entirely", ["traceback"]),
])
def test_explain_says_what_an_error_usually_means(error, message, words):
    text = selfcheck.explain(error, message, "en")
    assert all(w in text for w in words), text
    assert selfcheck.explain(error, message, "ja") != text


def test_every_explanation_has_both_languages_and_fills_its_blanks():
    for name, pattern, en, ja in selfcheck.ERRORS:
        assert set(re.findall(r"{(\w+)}", en)) == set(re.findall(r"{(\w+)}", ja)), (name, pattern)
        assert set(re.findall(r"{(\w+)}", en)) <= set(re.compile(pattern).groupindex) | {"last"}, (name, pattern)


def test_a_notebook_shows_the_sentence_under_an_error_but_not_under_a_self_check(capsys):
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.run_cell("from shikumi.course.selfcheck import set_language, expect\nset_language('en')")
        assert selfcheck.explain_errors()
        selfcheck.explain_errors()                                   # twice: still one sentence per error
        capsys.readouterr()
        shell.run_cell("import torch\ntorch.zeros(2, 4)[torch.arange(2), torch.tensor([3, 4])]")
        out = capsys.readouterr().out
        assert out.count("💡 What this error usually means: index 4 is one past the end") == 1, out
        shell.run_cell("expect(1, 2, 'f(1)', 'Add one.')")
        out = capsys.readouterr().out
        assert "f(1): expected 2, got 1. Add one." in out and "💡" not in out
    finally:
        interactiveshell.InteractiveShell.clear_instance()


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
    assert "形が合っていません" in str(info.value)
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
    assert str(info.value) == "predict(x, w, b): expected a tensor of shape (3,), got shape (3, 2). x * w keeps (3, 2): add each row up."
    with pytest.raises(AssertionError, match="got shape \\(3, 1\\)\\.$"):
        selfcheck.expect_shape(torch.zeros(3, 1), (3,), "predict(x, w, b)", hints)   # no hint for that one


def test_expect_shape_of_something_that_is_no_tensor():
    with pytest.raises(AssertionError, match="forget `return`"):
        selfcheck.expect_shape(None, (), "mse_loss(pred, target)")
    set_language("ja")
    with pytest.raises(AssertionError) as info:
        selfcheck.expect_shape(0.5, (), "mse_loss(pred, target)", "テンソルのまま返します。")
    assert str(info.value) == ("mse_loss(pred, target)：期待されるのは形 () のテンソルですが、返ってきた値は 0.5 です。"
                               " テンソルのまま返します。")
    with pytest.raises(AssertionError, match="です。 .item\\(\\) を使いません。$"):
        selfcheck.expect_shape(0.5, (), "mse_loss(pred, target)", {float: ".item() を使いません。", (4,): "平均します。"})

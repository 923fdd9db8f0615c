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

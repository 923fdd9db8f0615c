"""The language of the feedback: a learner who handed in the Japanese edition reads Japanese.

Every message the learner sees is written in both languages, side by side, and `say` picks one:

    say(f"expected {x}, got {y}.", f"期待される値は {x}、返ってきた値は {y} です。")

The grader sets the language once per submission, `with speaking(res.language): …`, around everything that
writes to the learner. It is a context variable, so submissions graded at the same time in other threads
(`shikumi grade --workers N`) each keep their own; outside any `speaking` block it is English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from shikumi.release import LANGS as LANGUAGES  # the editions: ("en", "ja")

_current: ContextVar[str] = ContextVar("shikumi_feedback_language", default="en")


def say(en: str, ja: str) -> str:
    """The message in the current language."""
    return ja if _current.get() == "ja" else en


def current() -> str:
    """"en" or "ja"."""
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Messages built inside this block are in `language` ("en" or "ja")."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)

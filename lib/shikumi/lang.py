"""The course's one bilingual form: `tr("English", "日本語")` is the text in the language being spoken.

The course is written once, in both languages, and read in one. Wherever a learner will see text, the
source holds both versions side by side in a single expression:

    expect(got, want, tr("output shape", "出力の形"))
    plt.title(tr("one vector per token", "トークンごとのベクトル"))

- In a released lesson (`shikumi release`), each `tr(en, ja)` is replaced by its edition's half, so a learner
  reads `plt.title("トークンごとのベクトル")` and never meets `tr`.
- Where the source itself runs (a lesson's source in solutions/, the library, the grader's hidden checks),
  `tr` returns the half of the current language: the one `set_language` chose, else the environment variable
  SHIKUMI_LANG, else English.
- The grader speaks each submission's language inside `with speaking(lang): ...`. That is a context
  variable, so submissions graded at the same time in different threads each keep their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANGUAGES = ("en", "ja")


def _checked(language: str, who: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"{who}: language must be one of {sorted(LANGUAGES)}, not {language!r}")
    return language


_chosen = _checked(os.environ.get("SHIKUMI_LANG") or "en", "SHIKUMI_LANG")   # set_language changes it
_spoken: ContextVar[str | None] = ContextVar("shikumi_language", default=None)  # inside `speaking(...)`


def tr(en: str, ja: str) -> str:
    """The text in the current language: `en` or `ja`. (Short, as gettext's `_` is; not `T`, which the course
    keeps for a sequence's length, as in `B, T, C = x.shape`.)"""
    return ja if current() == "ja" else en


def current() -> str:
    """"en" or "ja": the language of the innermost `speaking` block, else the one set_language chose."""
    return _spoken.get() or _chosen


def set_language(language: str) -> None:
    """Speak `language` from now on ("en" or "ja"), everywhere in this process outside `speaking` blocks."""
    global _chosen
    _chosen = _checked(language, "set_language")


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Text built inside this block is in `language`, in this thread or task only."""
    token = _spoken.set(_checked(language, "speaking"))
    try:
        yield
    finally:
        _spoken.reset(token)

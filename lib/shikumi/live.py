"""Watch it learn: what a lesson shows while the one training loop runs (issue 15).

    live = LiveTraining(sample_fn=lambda model: write(model, "ROMEO\\n"), every_s=10, goal=2.0)
    history = train(model, get_batch, loss_fn, cfg, live=live)

While `train` runs, the lesson shows, in both editions:
- a progress bar with the step, the time spent and an estimate of the time left (ETA);
- a live plot of the training loss (every step) and the held-out loss (every evaluation), with the goal line;
- a sample every `every_s` seconds: `sample_fn(model)` returns text (shown as it is) or pictures (a tensor
  (N, C, H, W) in [0, 1], drawn with plot.image_grid, or a matplotlib Figure), so you see the model get better;
- a Stop button. Stopping keeps the model as it is at that step: `train` evaluates it once more and returns
  the history so far, and the lesson goes on with that model. Jupyter's own ■ (interrupt) does the same, and so
  does `stop_after_s` (a presenter short of time, or a test): Stop, clicked by the clock.

Without a notebook (a script, `shikumi train`), or with `mode="text"`, the same news comes as a few lines of
plain text: at most `max_lines` of them however long the run, so an executed notebook stays small.
Labels follow the lesson's language (`set_language`, shikumi.lang), or `lang="en"`/`"ja"`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shikumi.lang import current as current_language

WORDS = {
    "en": {"step": "step", "elapsed": "elapsed", "eta": "left", "loss": "training loss", "val": "held-out loss",
           "goal": "goal", "stop": "Stop", "stopped": "stopped at step {step}: the model is kept as it is",
           "sample": "sample after {seconds:.0f} s (step {step})", "title": "training", "xlabel": "step",
           "done": "done: {steps} steps in {seconds:.0f} s; held-out loss {val}",
           "broken": "the sample function failed ({error}); training goes on without samples"},
    "ja": {"step": "ステップ", "elapsed": "経過", "eta": "残り", "loss": "学習データの損失", "val": "評価用データの損失",
           "goal": "目標", "stop": "止める", "stopped": "ステップ {step} で止めました。モデルはこの時点のまま使います",
           "sample": "{seconds:.0f} 秒後（ステップ {step}）の生成例", "title": "学習", "xlabel": "ステップ",
           "done": "完了：{steps} ステップ、{seconds:.0f} 秒。評価用データの損失 {val}",
           "broken": "生成例を作る関数がエラーになりました（{error}）。生成例なしで学習を続けます"},
}


class _View:
    """The widgets, displayed with a plain-text stand-in: a front end that draws widgets (JupyterLab) shows them;
    one that cannot (papermill's saved notebook, nbconvert, a terminal) shows `text` — at the end, the summary
    and the last sample."""

    def __init__(self, box, text: str):
        self.box, self.text = box, text

    def _repr_mimebundle_(self, **kwargs):
        return {**self.box._repr_mimebundle_(**kwargs), "text/plain": self.text}


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (also under papermill), where widgets can be displayed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveTraining:
    """The live display for shikumi.train.train (see the module's doc). Pass it as train(..., live=...).

    sample_fn: model → text, or images (N, C, H, W) in [0, 1], or a matplotlib Figure; None: no samples.
    every_s:   seconds between two samples (and between two lines of text in text mode).
    goal:      a loss to draw as a dotted line (e.g. the lesson's target); None: no line.
    lang:      "en" or "ja"; None: the lesson's language.
    mode:      "widgets" (a notebook), "text" (plain lines), or "auto": widgets inside a Jupyter kernel.
    max_lines: the most lines of text mode prints (progress and samples together), however long the run.
    stop_after_s: seconds after the start at which to stop, as the Stop button does; None: train to the end.
    """

    def __init__(self, sample_fn: Callable | None = None, every_s: float = 10.0, goal: float | None = None,
                 lang: str | None = None, mode: str = "auto", max_lines: int = 40, plot_every_s: float = 5.0,
                 title: str | None = None, stop_after_s: float | None = None):
        if mode not in ("auto", "widgets", "text"):
            raise ValueError(f"LiveTraining(mode={mode!r}): choose 'auto', 'widgets' or 'text'")
        if lang is None:
            lang = current_language()
        self.words = WORDS.get(lang, WORDS["en"])
        self.sample_fn, self.every_s, self.goal = sample_fn, every_s, goal
        self.mode = mode if mode != "auto" else ("widgets" if _in_notebook() else "text")
        self.max_lines, self.plot_every_s, self.title = max_lines, plot_every_s, title or self.words["title"]
        self.stop_after_s = stop_after_s
        self.stop_requested = False
        self.samples: list[tuple[int, float, object]] = []   # (step, seconds, what sample_fn returned)
        self.lines_printed = 0

    # -- called by train() ---------------------------------------------------------------------------------

    def start(self, total_steps: int, max_seconds: float | None = None) -> None:
        self.total, self.max_seconds = total_steps, max_seconds
        self.t0 = time.perf_counter()
        self.last_sample = self.last_plot = self.last_line = self.last_poll = -float("inf")
        self.stop_requested = False
        if self.mode == "widgets":
            self._build_widgets()

    def update(self, model, step: int, history) -> bool:
        """After each step: refresh what is due. Returns True when the learner asked to stop."""
        now = time.perf_counter()
        if self.stop_after_s is not None and now - self.t0 >= self.stop_after_s:
            self.stop_requested = True                # what the Stop button does
        if self.mode == "widgets":
            if now - self.last_poll >= 0.25:          # a few times a second: a click, the bar, the status line
                self.last_poll = now
                self._poll()
                self._progress(step, now, history)
            if now - self.last_plot >= self.plot_every_s:
                self.last_plot = now
                self._draw_plot(history)
        elif now - self.last_line >= max(self.every_s, 1.0) and self.lines_printed < self.max_lines - 2:
            self.last_line = now
            self._print(self._status(step, now, history))
        if self.sample_fn is not None and now - self.last_sample >= self.every_s:
            self.sample(model, step)
            self.last_sample = time.perf_counter()
        return self.stop_requested

    def end(self, model, history, stopped: bool = False) -> None:
        now = time.perf_counter()
        step = history.step[-1] if history.step else 0
        if self.sample_fn is not None:
            self.sample(model, step)
        val = f"{history.eval_loss[-1]:.3f}" if history.eval_loss else "–"
        done = self.words["done"].format(steps=len(history.step), seconds=now - self.t0, val=val)
        if stopped:
            # counted as the progress line counts ("step 57/700" after 57 steps), not from 0
            done = self.words["stopped"].format(step=len(history.step)) + " — " + done
        if self.mode == "widgets":
            self._progress(step, now, history, final=True)
            self._draw_plot(history)
            if getattr(self, "button", None) is not None:
                self.button.disabled = True
            last = self.samples[-1][2] if self.samples else None
            self.view.text = done + (f"\n{last.strip()[:400]}" if isinstance(last, str) else "")
            if self.handle is not None:
                self.handle.update(self.view)  # what a reader without widgets (papermill, nbconvert) sees
        self._print(done, force=True)

    # -- samples -------------------------------------------------------------------------------------------

    def sample(self, model, step: int) -> None:
        was_training = model.training
        model.eval()
        try:
            what = self.sample_fn(model)
        except Exception as e:  # a broken sample function must not cost the learner the training run
            self.sample_fn = None
            self._print(self.words["broken"].format(error=f"{type(e).__name__}: {e}"), force=True)
            return
        finally:
            model.train(was_training)
        seconds = time.perf_counter() - self.t0
        self.samples.append((step, seconds, what))
        heading = self.words["sample"].format(seconds=seconds, step=step + 1)   # counted from 1, as the bar counts
        if self.mode == "widgets":
            self._show_sample(heading, what)
        elif self.lines_printed < self.max_lines - 1:
            text = what if isinstance(what, str) else f"({type(what).__name__})"
            self._print(f"--- {heading} ---\n{text.strip()[:400]}")

    # -- text mode -----------------------------------------------------------------------------------------

    def _status(self, step: int, now: float, history) -> str:
        w = self.words
        parts = [f"{w['step']} {step + 1}/{self.total}", f"{w['elapsed']} {_clock(now - self.t0)}",
                 f"{w['eta']} {_clock(self._eta(step, now))}"]
        if history.train_loss:
            recent = history.train_loss[-20:]
            parts.append(f"{w['loss']} {sum(recent) / len(recent):.3f}")
        if history.eval_loss:
            parts.append(f"{w['val']} {history.eval_loss[-1]:.3f}")
        return " · ".join(parts)

    def _eta(self, step: int, now: float) -> float:
        elapsed = now - self.t0
        left = elapsed / (step + 1) * (self.total - step - 1)
        for limit in (self.max_seconds, self.stop_after_s):
            if limit is not None:
                left = min(left, max(0.0, limit - elapsed))
        return left

    def _print(self, text: str, force: bool = False) -> None:
        if force or self.lines_printed < self.max_lines:
            print(text, flush=True)
            self.lines_printed += 1

    # -- widgets mode --------------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.FloatProgress(value=0, min=0, max=1, description=self.title,
                                         layout=widgets.Layout(width="50%"))
        self.status = widgets.HTML()
        self.plot_out, self.sample_out = widgets.Output(), widgets.Output()
        self.button, self._poller = None, None
        button = widgets.Button(description=self.words["stop"], button_style="danger", icon="stop")
        button.on_click(lambda _: setattr(self, "stop_requested", True))
        if self._hear_clicks_while_busy(button):
            self.button = button
        else:
            try:
                from jupyter_ui_poll import ui_events  # lets a click reach the kernel while the cell runs

                self._poller = ui_events()
                self._poll_fn = self._poller.__enter__()
                self.button = button
            except Exception:  # no jupyter_ui_poll, or a kernel it does not know: Jupyter's ■ still stops
                self._poller = None
        top = [self.bar, self.status] + ([self.button] if self.button is not None else [])
        self.view = _View(widgets.VBox([widgets.HBox(top), widgets.HBox([self.plot_out, self.sample_out])]),
                          self.title)
        self.handle = display(self.view, display_id=True)

    def _hear_clicks_while_busy(self, button) -> bool:
        """ipykernel 7 reads the shell channel in a thread of its own, and there asks each comm where its message
        goes (`_reply_subshell_for`) while the cell still runs: a click is heard at once, without polling.
        (jupyter_ui_poll cannot help there: it calls `kernel.do_one_iteration`, which ipykernel 7 no longer has,
        and swallows the error.) True when the button is heard this way."""
        comm = getattr(button, "comm", None)
        route = getattr(comm, "_reply_subshell_for", None)
        if route is None:
            return False

        def heard(data, default):
            if isinstance(data, dict) and data.get("method") == "custom" and \
                    isinstance(data.get("content"), dict) and data["content"].get("event") == "click":
                self.stop_requested = True
            return route(data, default)

        comm._reply_subshell_for = heard
        return True

    def _poll(self) -> None:
        if self._poller is not None:
            try:
                self._poll_fn(20)
            except Exception:
                self._poller = None

    def close(self) -> None:
        """Release the event polling (train calls this when it ends)."""
        poller, self._poller = getattr(self, "_poller", None), None
        if poller is not None:
            try:
                poller.__exit__(None, None, None)
            except Exception:
                pass

    def _progress(self, step: int, now: float, history, final: bool = False) -> None:
        self.bar.value = 1.0 if final else (step + 1) / max(1, self.total)
        self.status.value = f"<code>{self._status(step, now, history)}</code>"

    def _draw_plot(self, history) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import clear_output

        from shikumi import plot

        with self.plot_out:
            clear_output(wait=True)
            _, ax = plt.subplots(figsize=(5, 3.2))
            w = self.words
            if history.train_loss:
                plot.lines(history.step, {w["loss"]: history.train_loss}, marker=None, ax=ax,
                           title=self.title, xlabel=w["xlabel"])
            if history.eval_loss:
                plot.lines(history.eval_step, {w["val"]: history.eval_loss}, ax=ax)
            if self.goal is not None:
                ax.axhline(self.goal, color="gray", linestyle=":", label=f"{w['goal']} {self.goal:g}")
                ax.legend()
            ax.set_xlim(0, max(1, self.total))
            plt.show()

    def _show_sample(self, heading: str, what) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import clear_output

        from shikumi import plot

        with self.sample_out:
            clear_output(wait=True)
            if isinstance(what, str):
                print(heading + "\n" + what)
            elif hasattr(what, "savefig"):                          # a matplotlib Figure
                what.suptitle(heading)
                plt.show()
            else:                                                   # images (N, C, H, W) in [0, 1]
                plot.image_grid(what, title=heading)
                plt.show()

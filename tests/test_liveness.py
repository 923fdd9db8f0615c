"""When is a grading run stalled? A busy host must not make an honest notebook look stalled (autograder.grade)."""

from autograder.grade import Liveness


def follow(share_of_a_core: float, seconds: float, messages_every: float | None = None, look_every: float = 0.5):
    """A run that gets `share_of_a_core` of one core for `seconds`, looked at as the grader looks: stalled when?"""
    alive = Liveness(now=0.0, stall_seconds=150)
    t, cpu, lines = 0.0, 0.0, 0
    while t < seconds:
        t += look_every
        cpu += share_of_a_core * look_every
        if messages_every and t % messages_every < look_every:
            lines += 1
        alive.see(t, lines, cpu)
        if alive.stalled(t):
            return t
    return None


def test_a_run_starved_by_a_busy_host_still_counts_as_working():
    # 22 runs on 2 cores: each gets about a tenth of a core, for a cell that takes ten minutes that way
    assert follow(0.09, 600) is None
    assert follow(0.02, 600) is None


def test_a_run_that_waits_and_computes_nothing_is_stalled_after_the_stall_time():
    stalled_at = follow(0.001, 600)      # an idle kernel waiting for a message that was lost
    assert stalled_at is not None and 150 < stalled_at <= 151


def test_messages_alone_keep_a_run_alive():
    assert follow(0.0, 600, messages_every=60) is None

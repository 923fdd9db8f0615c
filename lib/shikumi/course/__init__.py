"""The course's own tooling, apart from the library a learner reads: the self-checks the lessons import
(`selfcheck`), building editions (`release`, the presenter's edition, the learner's edition, the Gradescope
bundle) and the `shikumi` command (`cli`, also `python -m shikumi`). Nothing in shikumi's library imports it (a
test says so), and the learner edition carries only `selfcheck` and `cli` of it."""

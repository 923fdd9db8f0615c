"""The course's own tooling, apart from the library a learner reads: building editions (release, the presenter's
edition, the learner's edition) and the `shikumi` command. Nothing in shikumi's models imports it."""

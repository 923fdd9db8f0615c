"""Course tooling for instructors: what gets handed out and what grades. Not part of the learner edition."""

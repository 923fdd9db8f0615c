"""The Shikumi autograder.

Grading a submission, in one picture:

    submission.ipynb ──(answer cells, matched by nbgrader grade_id)──┐
    solutions/NN.py ───(shikumi release, in memory)── trusted lesson ┴→ grading notebook
    grading notebook ──papermill, separate process, time limits──→ plain-data outputs (JSON)
    outputs + hidden checks (autograder/checks/, run here, in the grader's process) ──→ score + feedback

The learner's code only ever runs inside the papermill kernel. What comes back is plain data (JSON with a
few tags, see `plain.py`), never a pickle; references are computed in the grader's own process.
"""

import sys

# jsonschema, under nbformat and papermill, compiles the grammars of the optional package rfc3987_syntax when it
# is imported: about 3 s, in the grader and again in every notebook run, for IRI checks no notebook needs.
# (autograder/execute.py repeats this line: an editable install made before this file existed treats
# `autograder` as a namespace package, and then this file does not run.)
sys.modules.setdefault("rfc3987_syntax", None)

"""The `shikumi` command (also `python -m shikumi ...`).

    shikumi release [--check]                  build lessons/ from solutions/ (or check it is in sync)
    shikumi release --nbgrader DIR --lang ja   an nbgrader course's source/ folder, in one language
    shikumi release --present DIR              the presenter's edition: executed, as slides
    shikumi grade SUBMISSION.ipynb ... --out DIR   grade submissions with the hidden checks
    shikumi similarity DIR                     the most similar answers to each exercise (DIR/similarity.html)
    shikumi train NAME [--size full]           reproduce a shipped checkpoint
    shikumi learner-edition DIR [--zip]        what learners get: lessons and library, nothing that grades
    shikumi gradescope LESSON -o autograder.zip    the bundle Gradescope runs for one lesson
    torchrun --nproc_per_node 4 -m shikumi train NAME --size full    the same on 4 GPUs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# jsonschema, under nbformat, compiles the grammars of the optional package rfc3987_syntax when it is imported:
# 2 s of CPU for each command that reads a notebook, for IRI checks no notebook needs (autograder/__init__.py too).
sys.modules.setdefault("rfc3987_syntax", None)


def _learner_edition(command: str, what: str) -> bool:
    """True (after saying so in one sentence) where the grader is not installed: the learner edition, which
    ships the library and the lessons but none of the instructor's tools."""
    import importlib.util

    if importlib.util.find_spec("autograder") is not None:
        return False
    print(f"shikumi {command}: {what} is not part of the learner edition; your instructor does it with the "
          "course repository.", file=sys.stderr)
    return True


def cmd_release(args) -> int:
    if _learner_edition("release", "building the lessons from their solutions"):
        return 2
    from shikumi.course import release

    if args.root:
        root = Path(args.root).resolve()
    elif (Path.cwd() / "solutions").is_dir():   # the course folder you are in, not the one shikumi came from
        root = Path.cwd().resolve()
    else:
        root = release.course_root()
    if not (root / "solutions").is_dir():
        print(f"shikumi release: no solutions/ folder in {root}", file=sys.stderr)
        return 2
    try:
        if args.present:
            from shikumi.course import present

            langs = [args.lang] if args.lang else list(release.LANGS)
            written = present.build(Path(args.present), langs, args.lessons or None, root)
            print(f"{len(written)} presenter notebook(s) in {args.present}: open them with `.venv/bin/jupyter lab "
                  f"{args.present}` (`make lab` opens lessons/ only), Alt+R for slides")
            return 0
        if args.nbgrader:
            written = release.release_nbgrader(Path(args.nbgrader), args.lang or "en", root,
                                               assignment=args.assignment)
            for path in written:
                print(f"wrote {path}")
            print(f"{len(written)} nbgrader source notebook(s) in {args.lang}; next: nbgrader generate_assignment")
            return 0
        if args.check:
            problems = release.stale(root)
            if problems:
                print(f"{root / 'lessons'} is out of date with solutions/ — run `shikumi release`:", file=sys.stderr)
                print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
                return 1
            print(f"{root / 'lessons'} is in sync with solutions/ "
                  f"({len(release.sources(root))} lessons × {len(release.LANGS)} languages)")
            return 0
        written = release.release(root)
    except ValueError as e:  # a malformed source: say which and why, in one line
        print(f"shikumi release: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"{len(written)} file(s) written; {len(release.sources(root))} lessons in sync in {root}")
    return 0


def cmd_grade(args) -> int:
    if _learner_edition("grade", "grading"):
        return 2
    from autograder import policy, sandbox
    from autograder.batch import SandboxMissing, grade_batch
    from autograder.cluster import Unreachable
    from autograder.report import summary, table

    notices: list[str] = []
    options = {"scheduler": args.scheduler} if args.scheduler else {}  # grading on many machines (Dask)
    try:
        course = policy.load_course(policy.find_course(args.course))
        results, skipped = grade_batch(args.submissions, args.out, workers=args.workers, progress=not args.json,
                                       cell_timeout=args.cell_timeout, timeout=args.timeout, seed=args.seed,
                                       no_sandbox=args.no_sandbox, course=course, overrides_file=args.overrides,
                                       student=args.student, exercise=args.exercise, force=args.force,
                                       notices=notices, **options)
    except (SandboxMissing, Unreachable, policy.CourseError, ValueError) as e:  # no sandbox here; no Dask
        # scheduler or worker; a malformed course.toml
        print(f"shikumi grade: {e}", file=sys.stderr)
        return 2
    for notice in notices:
        print(f"note: {notice}", file=sys.stderr)
    if not args.json:
        where = f"on the Dask workers of {args.scheduler}" if args.scheduler else sandbox.describe(args.no_sandbox)
        print(f"sandbox: {where}", file=sys.stderr)
    if args.json:
        print(json.dumps([r.to_gradescope() for r in results], ensure_ascii=False, indent=2))
    else:
        if len(results) <= 3:
            for res in results:
                print(summary(res))
        else:
            print(table(results))
        done = f", {skipped} already graded (unchanged)" if skipped else ""
        print(f"\n{len(results)} graded{done}. Results in {args.out}/: gradebook.csv, and per learner "
              "<student>/<lesson>.json (Gradescope format) and .html (feedback)")
    return 1 if any(r.error for r in results) else 0


def cmd_similarity(args) -> int:
    from autograder import similarity

    out = Path(args.out_dir)
    if not out.is_dir():
        print(f"shikumi similarity: {out} is not a folder of results (the --out of `shikumi grade`)", file=sys.stderr)
        return 2
    path, ranked = similarity.write_report(out, top=args.top)
    for (lesson, gid), pairs in ranked.items():
        for p in pairs:
            print(f"{p.score:.2f}  {lesson}  {gid:<20}  {p.first}  {p.second}")
    print(f"wrote {path}")
    return 0


def cmd_train(args) -> int:
    from shikumi import zoo

    try:
        zoo.train_recipe(args.name, args.out, size=args.size, device=args.device)
    except KeyError as e:
        print(f"shikumi train: {e.args[0]}", file=sys.stderr)
        return 2
    return 0


def cmd_learner_edition(args) -> int:
    if _learner_edition("learner-edition", "building an edition"):
        return 2
    from shikumi.course import learner

    try:
        written = learner.build(args.dir, Path(args.root) if args.root else None, make_zip=args.zip)
    except learner.EditionError as e:
        print(f"shikumi learner-edition: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print("Hand out the folder (or the zip): learners run `make selftest`, then `make lab`.")
    return 0


def cmd_gradescope(args) -> int:
    if _learner_edition("gradescope", "building a grader"):
        return 2
    from shikumi.course import gradescope

    try:
        path = gradescope.build(args.lesson, args.out, lang=args.lang, visibility=args.visibility,
                                root=Path(args.root) if args.root else None, timeout=args.timeout)
    except gradescope.BundleError as e:
        print(f"shikumi gradescope: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment "
          "(see docs/instructor-guide.md, 'Grading on Gradescope')")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shikumi", description="Shikumi course tools")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="build the student notebooks in lessons/ from solutions/")
    p.add_argument("--check", action="store_true", help="exit 1 if lessons/ is not what release would write")
    p.add_argument("--root", help="the course folder (default: the current folder if it has solutions/, else the "
                                  "one this package was installed from)")
    p.add_argument("--nbgrader", metavar="COURSE_DIR", help="write nbgrader's source/<assignment>/ notebooks in one "
                                                            "language (see --lang) instead of lessons/")
    p.add_argument("--lang", choices=["en", "ja"], help="one edition for --nbgrader (default: en) or --present "
                                                          "(default: both)")
    p.add_argument("--present", metavar="DIR", help="write the presenter's edition to DIR: every lesson run once, "
                                                    "outputs in place, laid out as slides (a few minutes a lesson)")
    p.add_argument("--lessons", nargs="*", help="only these lessons, e.g. 01_ngram 08_text_to_image (--present)")
    p.add_argument("--assignment", default="{lesson}",
                   help='nbgrader assignment names: "{lesson}" (01_ngram, the default), "{number}", "week{number}"')
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", help="grade submitted notebooks")
    p.add_argument("submissions", nargs="+", help="submitted notebooks, or folders of them (see the README)")
    p.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    p.add_argument("--out", default="grades", help="folder for gradebook.csv and results (default: grades/)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--cell-timeout", type=int, default=120, help="seconds one cell may run (default 120)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds a whole notebook may run (default 3600)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without the bubblewrap sandbox: ONLY for trusted submissions (said in every result)")
    p.add_argument("--seed", type=int, default=None, help="fix the check inputs (default: derived from the answers)")
    p.add_argument("--course", default=None,
                   help="the course policy: due dates, late penalty, extensions (default: ./course.toml if present)")
    p.add_argument("--overrides", default=None,
                   help="manual points (student,lesson,exercise,points,reason); kept as OUT/overrides.csv, "
                        "which is read by default")
    p.add_argument("--student", default=None,
                   help="grade only this learner's submissions; names the learner of a file given alone")
    p.add_argument("--exercise", default=None, metavar="GRADE_ID",
                   help="check only this exercise again, keeping the other exercises' stored results")
    p.add_argument("--force", action="store_true", help="grade again even submissions whose results are current")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                   help="grade on the workers of this Dask scheduler, on any number of machines (see the "
                        "instructor guide); this machine only reads the submissions and writes the results")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("similarity", help="the most similar answers to each exercise, from graded results")
    p.add_argument("out_dir", help="the folder `shikumi grade --out` wrote")
    p.add_argument("--top", type=int, default=5, help="pairs listed per exercise (default 5)")
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("train", help="reproduce a shipped checkpoint (or train a bigger one on a GPU)")
    p.add_argument("name", help="which checkpoint, e.g. gpt_shakespeare")
    p.add_argument("--size", default="quick", choices=["quick", "full"], help="the preset (default: quick)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--out", default=None, help="folder for the checkpoint (default: the shipped one)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("learner-edition", help="write what learners need, and nothing that grades, to DIR")
    p.add_argument("dir", help="a new folder (or an earlier learner edition, which is replaced)")
    p.add_argument("--zip", action="store_true", help="also write DIR.zip")
    p.add_argument("--root", help="the course folder (default: the one this package was installed from)")
    p.set_defaults(func=cmd_learner_edition)

    p = sub.add_parser("gradescope", help="build a Gradescope autograder bundle for one lesson")
    p.add_argument("lesson", help="the lesson, e.g. 01_ngram")
    p.add_argument("--lang", default="en", choices=["en", "ja"],
                   help="the edition handed out: the language of messages given before a notebook is read")
    p.add_argument("-o", "--out", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    p.add_argument("--visibility", default="visible",
                   choices=["visible", "hidden", "after_due_date", "after_published"],
                   help="when learners see each exercise's result and message (Gradescope's test visibility)")
    p.add_argument("--timeout", type=int, default=540,
                   help="seconds the notebook may run (default 540: under Gradescope's autograder timeout)")
    p.add_argument("--root", help="the course folder (default: the one this package was installed from)")
    p.set_defaults(func=cmd_gradescope)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

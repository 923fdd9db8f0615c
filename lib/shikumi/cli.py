"""The `shikumi` command.

    shikumi release [--check]                  build lessons/ from solutions/ (or check it is in sync)
    shikumi grade SUBMISSION.ipynb ... --out DIR   grade submissions with the hidden checks
    shikumi train NAME [--size full]           reproduce a shipped checkpoint
    torchrun --nproc_per_node 4 -m shikumi.cli train NAME --size full    the same on 4 GPUs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_release(args) -> int:
    from shikumi import release

    root = Path(args.root).resolve() if args.root else release.course_root()
    if not (root / "solutions").is_dir():
        print(f"shikumi release: no solutions/ folder in {root}", file=sys.stderr)
        return 2
    try:
        if args.check:
            problems = release.stale(root)
            if problems:
                print("lessons/ is out of date with solutions/ — run `shikumi release`:", file=sys.stderr)
                print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
                return 1
            print(f"lessons/ is in sync with solutions/ ({len(release.sources(root))} lessons × {len(release.LANGS)} languages)")
            return 0
        written = release.release(root)
    except ValueError as e:  # a malformed source notebook: say which and why, in one line
        print(f"shikumi release: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"{len(written)} file(s) written; {len(release.sources(root))} lessons in sync")
    return 0


def cmd_grade(args) -> int:
    from autograder import sandbox
    from autograder.batch import SandboxMissing, grade_batch
    from autograder.cluster import Unreachable
    from autograder.report import summary, table

    options = {"scheduler": args.scheduler} if args.scheduler else {}  # grading on many machines (Dask)
    try:
        results, skipped = grade_batch(args.submissions, args.out, workers=args.workers, progress=not args.json,
                                       cell_timeout=args.cell_timeout, timeout=args.timeout, seed=args.seed,
                                       no_sandbox=args.no_sandbox, **options)
    except (SandboxMissing, Unreachable) as e:  # no sandbox here; or no Dask scheduler, or no worker
        print(f"shikumi grade: {e}", file=sys.stderr)
        return 2
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


def cmd_train(args) -> int:
    from shikumi import recipes

    try:
        recipes.train_recipe(args.name, args.out, size=args.size, device=args.device)
    except KeyError as e:
        print(f"shikumi train: {e.args[0]}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shikumi", description="Shikumi course tools")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="build the student notebooks in lessons/ from solutions/")
    p.add_argument("--check", action="store_true", help="exit 1 if lessons/ is not what release would write")
    p.add_argument("--root", help="the course folder (default: the one this package was installed from)")
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
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                   help="grade on the workers of this Dask scheduler, on any number of machines (see the "
                        "instructor guide); this machine only reads the submissions and writes the results")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("train", help="reproduce a shipped checkpoint (or train a bigger one on a GPU)")
    p.add_argument("name", help="which checkpoint, e.g. gpt_shakespeare")
    p.add_argument("--size", default="quick", choices=["quick", "full"], help="the preset (default: quick)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--out", default=None, help="folder for the checkpoint (default: the shipped one)")
    p.set_defaults(func=cmd_train)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

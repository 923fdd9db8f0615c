"""`python -m shikumi ...` is the `shikumi` command (shikumi.course.cli); so is `torchrun ... -m shikumi train NAME`."""

import sys

from shikumi.course.cli import main

if __name__ == "__main__":
    sys.exit(main())

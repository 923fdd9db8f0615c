#!/usr/bin/env bash
# On a machine with a CUDA GPU: run every lesson on the GPU, then the model benchmarks. Target: < 8 minutes.
#   bash benchmarks/gpu_smoke.sh            (after `make install`; uses .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY - <<'PY'
import torch, sys
if not torch.cuda.is_available():
    sys.exit("gpu_smoke: no CUDA GPU visible to torch " + torch.__version__ + " (is this a CPU build?)")
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
out=$(mktemp -d)
start=$(date +%s)
for nb in solutions/[0-9][0-9]_*.ipynb; do
  t0=$(date +%s)
  $PY -m papermill "$nb" "$out/$(basename "$nb")" --no-progress-bar -p DEVICE cuda -p SIZE quick -p SEED 0 >/dev/null
  echo "$(basename "$nb"): $(( $(date +%s) - t0 )) s on cuda"
done
$PY -m benchmarks.run --sections models --out "$out/models.md"
cat "$out/models.md"
echo "total: $(( $(date +%s) - start )) s"

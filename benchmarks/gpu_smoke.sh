#!/usr/bin/env bash
# On a machine with a CUDA GPU, in under 8 minutes: the GPU tests, every lesson on the GPU, the model benchmarks.
#
#   bash benchmarks/gpu_smoke.sh [OUTDIR]      (after `make install`; OUTDIR defaults to $OUT, else a temp dir)
#
# Writes into OUTDIR: summary.md (what passed, how long each part took), pytest.txt, lessons.md (wall time of
# each lesson), notebooks/ (the executed lessons, to look at what failed), results-cuda.md (the model
# benchmarks on the GPU, in benchmarks/results.md's format). Exits non-zero if anything failed.
# Environment: PY (default .venv/bin/python, else python3), JOBS (lessons run at once, default 3).
#
# On a GPU machine with no package index (the workplace's lent machines): fill .whl/ here first with
# `bash benchmarks/gpu_wheels.sh` (the course's pure-Python dependencies the machine lacks), carry .whl, and the
# script installs them into /tmp/site and runs the course from the source tree (PYTHONPATH=lib).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] && [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_smoke: installing .whl/ failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD/lib:$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
fi
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
JOBS=${JOBS:-3}
out=${1:-${OUT:-$(mktemp -d)}}
mkdir -p "$out/notebooks"
summary="$out/summary.md"
start=$(date +%s)
failed=0

$PY - <<'PY' | tee "$summary"
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_smoke: no CUDA GPU visible to torch " + torch.__version__ + " (is this a CPU build?)")
print(f"# GPU smoke test\n\nGPU: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible) | "
      f"torch {torch.__version__} | CUDA {torch.version.cuda}\n")
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

part() {  # part NAME SECONDS COMMAND...: run with a time limit, record its status and duration in the summary
  local name=$1 limit=$2 t0=$(date +%s) rc
  shift 2
  timeout "$limit" "$@"
  rc=$?
  [ "$rc" -eq 0 ] || failed=1
  echo "- $name: $( [ "$rc" -eq 0 ] && echo ok || echo "**failed (exit $rc$( [ "$rc" -eq 124 ] && echo ", over ${limit} s"))**" ), $(( $(date +%s) - t0 )) s" | tee -a "$summary"
}

# 1. the GPU tests: every model trains on CUDA with bf16 autocast, torch.compile, DDP with NCCL if 2+ GPUs
part "pytest (tests/test_cuda.py, test_train.py, test_device.py)" 180 \
  $PY -m pytest tests/test_cuda.py tests/test_train.py tests/test_device.py -q -rs -p no:cacheprovider \
  > "$out/pytest.txt" 2>&1
tail -n 15 "$out/pytest.txt"

# 2. every lesson's solution on the GPU, JOBS at a time (each with its wall time)
run_lesson() {
  local nb=$1 name t0=$(date +%s) rc
  name=$(basename "$nb" .ipynb)
  $PY -m papermill "$nb" "$OUTDIR/notebooks/$name.ipynb" --no-progress-bar \
    -p DEVICE cuda -p SIZE quick -p SEED 0 > "$OUTDIR/notebooks/$name.log" 2>&1
  rc=$?
  echo "| $name | $(( $(date +%s) - t0 )) | $( [ "$rc" -eq 0 ] && echo ok || echo "**failed (exit $rc)**" ) |"
}
export -f run_lesson
export PY OUTDIR="$out"
t0=$(date +%s)
notebooks=(solutions/[0-9][0-9]_*.ipynb)
{
  echo "| lesson (DEVICE=cuda, SIZE=quick, $JOBS at a time) | wall time (s) | result |"
  echo "|---|---:|---|"
  printf '%s\n' "${notebooks[@]}" | timeout 240 xargs -P "$JOBS" -I{} bash -c 'run_lesson "$1"' _ {} | sort
} > "$out/lessons.md"
ok=$(grep -c '| ok |' "$out/lessons.md")
[ "$ok" -eq "${#notebooks[@]}" ] || failed=1
echo "- lessons on cuda: $ok of ${#notebooks[@]} ok$( [ "$ok" -eq "${#notebooks[@]}" ] || echo " (**see notebooks/*.log; a missing row ran over 240 s**)" ), $(( $(date +%s) - t0 )) s" | tee -a "$summary"
cat "$out/lessons.md"

# 3. the model benchmarks on the GPU (the same sections as `make bench`, device cuda)
part "benchmarks (models, sampling, unet, quality) on cuda" 180 \
  $PY -m benchmarks.run --only models,sampling,unet,quality --device cuda --out "$out/results-cuda.md" \
  --note "gpu_smoke.sh"
cat "$out/results-cuda.md" 2>/dev/null | grep '^|' || true

# 4. lesson 08 at full size: the wide UNet (18.4 M parameters) trained briefly on the GPU, then judged
part "lesson 08 full size (3000 steps) + prompt fidelity" 240 \
  $PY -m benchmarks.full_size --device cuda --steps 3000 --out "$(mktemp -d)" > "$out/full_size.txt" 2>&1
tail -n 1 "$out/full_size.txt" | tee -a "$summary"

echo "- total: $(( $(date +%s) - start )) s (target: under 480 s)" | tee -a "$summary"
exit $failed

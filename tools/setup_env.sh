#!/usr/bin/env bash
# Sets up .venv/ in the repo root, unattended, on a fresh machine:
#   torch + torchvision (a matched pair; a working install is kept), mmcv 2.1.0 built
#   from source with its compiled ops (the wheel is cached outside git, so the
#   build runs once per machine), mmengine / mmdet / mmseg / mmpretrain, timm,
#   the test tools, mmdeploy (with --no-deps, see requirements/mmdeploy.txt) and
#   mmfasternet itself (editable).
# Environment overrides:
#   PYTHON               interpreter used to create the venv (default: python3)
#   MMFASTERNET_CACHE    wheel cache folder (default: ~/.cache/mmfasternet)
#   TORCH_SPEC           pip spec of the torch pair (default below)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
CACHE="${MMFASTERNET_CACHE:-$HOME/.cache/mmfasternet}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
MMCV_VERSION="2.1.0"
START=$(date +%s)

step() { printf '\n[setup %4ds] %s\n' "$(( $(date +%s) - START ))" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    step "creating virtual environment at $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# This machine's pip config names local file:// indexes that are absent for most
# packages; pip warns once per package about them. Keep that noise out of the log.
pip_quiet() {
    "$PY" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is neither a file nor a directory" >&2)
}
PIP=(pip_quiet)

newer_than_stamp() {  # any of the files that define the environment changed
    local file
    for file in "$REPO_ROOT/setup.py" "$REPO_ROOT/requirements.txt" \
            "$REPO_ROOT"/requirements/*.txt "$0"; do
        [ "$file" -nt "$VENV/.mmfasternet-ready" ] && return 0
    done
    return 1
}
if [ -f "$VENV/.mmfasternet-ready" ] && ! newer_than_stamp \
        && "$PY" -c "import mmfasternet, mmcv.ops, mmdet, mmseg, mmpretrain, timm, mmdeploy.apis" 2>/dev/null; then
    step "environment already complete (delete .venv/.mmfasternet-ready to redo)"
    exit 0
fi

step "build tools (pip, setuptools<82 because mmcv and mmengine import pkg_resources, wheel)"
"${PIP[@]}" install -q --upgrade "pip" "setuptools>=64,<82" wheel ninja

if "$PY" -c "import torch, torchvision; from torchvision.ops import nms" 2>/dev/null; then
    step "keeping installed $("$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
else
    step "installing $TORCH_SPEC (about a minute)"
    # shellcheck disable=SC2086
    "${PIP[@]}" install -q $TORCH_SPEC
fi
TORCH_TAG="$("$PY" -c 'import sys, torch; print("torch%s-py%d%d" % (torch.__version__.replace("+", "_"), *sys.version_info[:2]))')"

if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    step "mmcv $MMCV_VERSION with ops already installed"
else
    WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-$TORCH_TAG"
    if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
        step "building mmcv $MMCV_VERSION with compiled ops from source (6-12 minutes on 2 cores; cached in $WHEEL_DIR)"
        BUILD="$(mktemp -d)"
        trap 'rm -rf "$BUILD"' EXIT
        "${PIP[@]}" download -q --no-deps --no-binary=:all: --no-build-isolation -d "$BUILD" "mmcv==$MMCV_VERSION"
        tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
        SRC="$BUILD/mmcv-$MMCV_VERSION"
        # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
        if "$PY" -c "import sys, torch; sys.exit(0 if tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]) >= (2, 10) else 1)"; then
            sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
            step "raised mmcv's -std=c++17 to -std=c++20 for this torch"
        fi
        ( cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" CFLAGS="-g0" CXXFLAGS="-g0" \
            "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$BUILD/dist" . 2>&1 \
            | while IFS= read -r line; do
                case "$line" in
                    *"Building"*|*"Created wheel"*|*"error"*|*"Error"*) printf '  %s\n' "$line" ;;
                    *) printf '.' ;;
                esac
              done; echo )
        mkdir -p "$WHEEL_DIR"
        cp "$BUILD"/dist/mmcv-*.whl "$WHEEL_DIR"/
    else
        step "using cached mmcv wheel from $WHEEL_DIR"
    fi
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
fi

step "installing mmengine, mmdet, mmsegmentation, mmpretrain, timm, test tools and mmfasternet (editable)"
"${PIP[@]}" install -q -r "$REPO_ROOT/requirements.txt"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$REPO_ROOT"

step "installing mmdeploy and what it imports, without its dependency pins (requirements/mmdeploy.txt)"
"${PIP[@]}" install -q --no-deps -r "$REPO_ROOT/requirements/mmdeploy.txt"

step "checking imports"
"$PY" - <<'PYEOF'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain, timm, mmfasternet
import mmdeploy, mmdeploy.apis
print(f"  torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, "
      f"mmpretrain {mmpretrain.__version__}, timm {timm.__version__}, mmdeploy {mmdeploy.__version__}, "
      f"mmfasternet {mmfasternet.__version__}")
PYEOF
touch "$VENV/.mmfasternet-ready"
step "done"

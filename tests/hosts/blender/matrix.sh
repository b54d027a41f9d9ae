#!/usr/bin/env bash
# tests/hosts/blender under every supported Blender: the newest bpy module (PyPI) of each
# supported release line, each in its own venv (made on first use, reused after).
#
#   bash tests/hosts/blender/matrix.sh                 # 4.2 LTS, 4.5 LTS and 5.0
#   bash tests/hosts/blender/matrix.sh 4.2.23          # one version
#   MEMMATTE_BPY_VENVS=/tmp/bpy bash tests/hosts/blender/matrix.sh
#
# The venvs live in $MEMMATTE_BPY_VENVS (default .venv-bpy/ in the checkout). Exits non-zero
# when any version fails; prints one summary line per version.
set -uo pipefail
cd "$(dirname "$0")/../../.."

# The newest bpy of each supported line (bpy wheels exist for Python 3.11 only).
SUPPORTED=(4.2.23 4.5.15 5.0.1)
VERSIONS=("$@")
[ ${#VERSIONS[@]} -eq 0 ] && VERSIONS=("${SUPPORTED[@]}")
ROOT=${MEMMATTE_BPY_VENVS:-.venv-bpy}
PYTHON=${PYTHON:-python3.11}
TORCH=${TORCH:-torch==2.13.0}

summary=()
status=0
for version in "${VERSIONS[@]}"; do
  venv="$ROOT/bpy-$version"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import bpy" 2>/dev/null; then
    echo "== making $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv" &&
      "$venv/bin/python" -m pip install --quiet --upgrade pip &&
      "$venv/bin/python" -m pip install --quiet "$TORCH" &&
      "$venv/bin/python" -m pip install --quiet -e . pytest "bpy==$version" || {
      summary+=("bpy $version: could not make the venv")
      status=1
      continue
    }
  fi
  echo "== bpy $version"
  start=$SECONDS
  if "$venv/bin/python" -m pytest tests/hosts/blender -q -p no:cacheprovider; then
    summary+=("bpy $version: passed in $((SECONDS - start)) s")
  else
    summary+=("bpy $version: FAILED")
    status=1
  fi
done
printf '%s\n' "${summary[@]}"
exit $status

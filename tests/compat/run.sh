#!/usr/bin/env bash
# Unit and integration tests on the oldest ansible-core the collection claims to support.
#
# The minimum comes from meta/runtime.yml (requires_ansible: ">=X.Y.Z"). A virtualenv at
# ${COMPAT_VENV:-.tmp/venv-oldest} gets requirements-test.txt with ansible-core pinned to X.Y.Z
# through a pip constraints file. When something in requirements-test.txt cannot live with that
# ansible-core (the "ansible" bundle needs a newer patch release), it falls back to what
# tests/unit and tests/integration need: pytest, hypothesis and PyYAML (their ranges from
# requirements-test.txt) and ansible-core itself (which brings Jinja2).
# The venv is reused while its stamp (pinned version, requirements-test.txt, this script) matches.
#
# Environment: PYTHON (default python3), COMPAT_VENV, PYTEST_ARGS (extra pytest arguments),
# COMPAT_MINIMUM (test this ansible-core version instead of the one meta/runtime.yml claims).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="${COMPAT_VENV:-.tmp/venv-oldest}"
case "$VENV" in
  /*) ;;
  *) VENV="$ROOT/$VENV" ;;
esac
BIN="$VENV/bin"
STAMP="$VENV/.compat-stamp"
COLLECTION_LINK=.collections/ansible_collections/hailo/services

# ---------------------------------------------------------------- the oldest claimed version
requires="$(sed -nE 's/^requires_ansible:[[:space:]]*["'\'']?([^"'\'']*)["'\'']?[[:space:]]*$/\1/p' meta/runtime.yml)"
minimum="${COMPAT_MINIMUM:-$(sed -nE 's/.*>=[[:space:]]*([0-9]+(\.[0-9]+){1,2}).*/\1/p' <<<"$requires")}"
if [ -z "$minimum" ]; then
  echo "tests/compat/run.sh: no '>=' minimum in meta/runtime.yml requires_ansible: '$requires'" >&2
  exit 2
fi
# ">=2.19" means 2.19.0.
if [[ "$minimum" =~ ^[0-9]+\.[0-9]+$ ]]; then
  minimum="$minimum.0"
fi
PIN="ansible-core==$minimum"

# ---------------------------------------------------------------- the virtualenv
stamp_text="$(printf '%s\n' "$PIN" "$("$PYTHON" --version 2>&1)" \
  "$(sha256sum requirements-test.txt "${BASH_SOURCE[0]}" | cut -d' ' -f1)")"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp_text" ] && [ -x "$BIN/python" ]; then
  echo "compat: reusing $VENV ($PIN)"
else
  echo "compat: building $VENV with $PIN"
  start=$SECONDS
  "$PYTHON" -m venv --clear "$VENV"
  "$BIN/python" -m pip install --quiet --upgrade pip
  constraints="$VENV/constraints.txt"
  printf '%s\n' "$PIN" >"$constraints"
  log="$VENV/pip-full.log"
  if "$BIN/python" -m pip install --quiet -r requirements-test.txt -c "$constraints" >"$log" 2>&1; then
    echo "compat: installed all of requirements-test.txt"
  else
    echo "compat: requirements-test.txt does not install with $PIN:"
    grep -E '^(ERROR|    The conflict is caused by|    [a-z].* depends on)' "$log" | sed 's/^/  /' || true
    echo "compat: installing only what tests/unit and tests/integration need"
    minimal="$VENV/requirements-minimal.txt"
    # requirements-test.txt's ansible-core range may not hold the minimum: the pin decides.
    grep -iE '^(pytest|hypothesis|pyyaml)[[:space:]]*([<>=!~;[]|$)' \
      requirements-test.txt >"$minimal"
    echo ansible-core >>"$minimal"
    "$BIN/python" -m pip install --quiet -r "$minimal" -c "$constraints"
  fi
  printf '%s\n' "$stamp_text" >"$STAMP"
  echo "compat: venv ready in $((SECONDS - start))s"
fi

# ---------------------------------------------------------------- the collection path
if [ ! -L "$COLLECTION_LINK" ] && [ ! -e "$COLLECTION_LINK" ]; then
  mkdir -p "$(dirname "$COLLECTION_LINK")"
  ln -sfn ../../.. "$COLLECTION_LINK"
fi

# ---------------------------------------------------------------- the tests
export VIRTUAL_ENV="$VENV"
export PATH="$BIN:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"

tested="$("$BIN/python" -c 'from ansible.release import __version__; print(__version__)')"
if [ "$tested" != "$minimum" ]; then
  echo "compat: $VENV has ansible-core $tested, expected $minimum" >&2
  exit 1
fi
version_text="$("$BIN/ansible-playbook" --version)"
echo "compat: ${version_text%%$'\n'*} (python: $BIN/python)"

status=0
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words on purpose
"$BIN/python" -m pytest tests/unit tests/integration -q -p no:cacheprovider ${PYTEST_ARGS:-} || status=$?
if [ "$status" -eq 0 ]; then
  echo "compat: unit and integration tests passed on ansible-core $tested (oldest claimed: $requires)"
else
  echo "compat: unit and integration tests FAILED on ansible-core $tested (oldest claimed: $requires)" >&2
fi
exit "$status"

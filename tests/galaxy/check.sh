#!/usr/bin/env bash
# Galaxy readiness, offline (no Galaxy, no container registry, no Docker engine):
#   1. build the tarball (.tmp/dist) and run galaxy-importer on it, as Galaxy does on upload
#      (settings: tests/galaxy/galaxy-importer.cfg; ansible-test is left to `make sanity`);
#   2. antsibull-docs lint-collection-docs --plugin-docs (plugin, module and role docs);
#   3. antsibull-changelog lint (the fragments);
#   4. antsibull-changelog release in a throwaway copy: every filter and module must be listed
#      under the version in galaxy.yml.
# Uses the virtualenv ${VENV:-.venv} (make setup) and installs galaxy-importer, antsibull-docs
# and antsibull-changelog into it, in the ranges of requirements-test.txt, when they are missing.
#   tests/galaxy/check.sh          exits non-zero on the first failure
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "galaxy-check: no virtualenv at $venv (run make setup first)" >&2
  exit 1
fi
bin=$(cd "$venv/bin" && pwd)
export PATH="$bin:$PATH"

step() { printf '\n== galaxy-check: %s\n' "$*"; }
fail() { printf 'galaxy-check: FAILED: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
mapfile -t reqs < <(grep -E '^(galaxy-importer|antsibull-docs|antsibull-changelog)[<>=~! ]' requirements-test.txt)
[ "${#reqs[@]}" -eq 3 ] || fail "requirements-test.txt must pin galaxy-importer, antsibull-docs and antsibull-changelog"
if ! "$bin/python" - "${reqs[@]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement

for line in sys.argv[1:]:
    req = Requirement(line)
    try:
        have = version(req.name)
    except PackageNotFoundError:
        sys.exit(1)
    if not req.specifier.contains(have, prereleases=True):
        sys.exit(1)
EOF
then
  step "installing ${reqs[*]} into $venv"
  "$bin/python" -m pip install --quiet "${reqs[@]}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hailo-galaxy-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The tracked and new files (like `make sanity`), at a path ansible and antsibull can import.
copy=$work/collections/ansible_collections/hailo/services
mkdir -p "$copy"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$copy" -xf -

version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)
tarball=.tmp/dist/hailo-services-$version.tar.gz

# ---------------------------------------------------------------- galaxy-importer
step "ansible-galaxy collection build"
rm -f "$tarball"
"$bin/ansible-galaxy" collection build --force --output-path .tmp/dist
[ -f "$tarball" ] || fail "no $tarball"

step "galaxy-importer $tarball"
mkdir -p "$work/importer/tmp"
set +e
(
  cd "$work/importer"
  env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH \
    GALAXY_IMPORTER_CONFIG="$root/tests/galaxy/galaxy-importer.cfg" \
    GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$work/importer/tmp" \
    "$bin/python" -m galaxy_importer.main "$root/$tarball"
) >"$work/importer.log" 2>&1
rc=$?
set -e
grep -v '^Loading ' "$work/importer.log" || true
[ "$rc" -eq 0 ] || fail "galaxy-importer exited $rc"
grep -q '^Importer processing completed successfully' "$work/importer.log" \
  || fail "galaxy-importer did not complete"
grep -q '^\.\.\.ansible-lint run complete' "$work/importer.log" \
  || fail "galaxy-importer did not run ansible-lint"
# Galaxy shows these on the collection's import log: lint findings, unreadable docs, ...
if grep -E '^(WARNING|ERROR|CRITICAL):' "$work/importer.log"; then
  fail "galaxy-importer reported the warnings or errors above"
fi

# ---------------------------------------------------------------- antsibull-docs
step "antsibull-docs lint-collection-docs --plugin-docs"
(
  cd "$copy"
  env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$work/collections" \
    "$bin/antsibull-docs" lint-collection-docs --plugin-docs \
    --validate-collection-refs=dependent --disallow-unknown-collection-refs .
) || fail "antsibull-docs lint-collection-docs"

# ---------------------------------------------------------------- antsibull-changelog
step "antsibull-changelog lint"
"$bin/antsibull-changelog" lint || fail "antsibull-changelog lint"

step "antsibull-changelog release (version $version, in a throwaway copy)"
(
  cd "$copy"
  env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$work/collections" \
    "$bin/antsibull-changelog" release
) || fail "antsibull-changelog release"
[ -f "$copy/CHANGELOG.rst" ] || fail "antsibull-changelog release wrote no CHANGELOG.rst"

# Every filter (by its docs file: several filters share a .py, each documented beside it in
# <filter>.yml) and module (by file name), as a "- name - short description" entry of the
# release's section (the one headed v<version>, up to the next release's).
"$bin/python" - "$copy/CHANGELOG.rst" "$version" plugins/filter/*.yml plugins/modules/*.py <<'EOF' \
  || fail "plugins missing from the $version release notes"
import os
import re
import sys

text, version, paths = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3:]
match = re.search(r"^v%s\n=+\n(.*?)(?=^v\d[^\n]*\n=+\n|\Z)" % re.escape(version), text, re.S | re.M)
if not match:
    sys.exit("no v%s section in CHANGELOG.rst" % version)
section = match.group(1)
names = sorted({os.path.splitext(os.path.basename(p))[0] for p in paths} - {"__init__"})
missing = [n for n in names if not re.search(r"^- %s - " % re.escape(n), section, re.M)]
if missing:
    sys.exit("not listed as new in v%s: %s" % (version, ", ".join(missing)))
print("CHANGELOG.rst v%s lists all %d filters and modules" % (version, len(names)))
EOF

step "all Galaxy checks passed"

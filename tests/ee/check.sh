#!/usr/bin/env bash
# The execution environment (execution-environment.yml), offline: no registry, no container
# engine, no image is built (that needs the base image from quay.io).
#   1. build the collection tarball into .tmp/dist;
#   2. ansible-builder create: write the build context to .tmp/ee-context;
#   3. check the context: the collection tarball, the requirements.yml that installs it, the
#      Containerfile's pinned ansible-core (meta/runtime.yml's requires_ansible, and the
#      ansible-core the tests run with) and ansible-runner;
#   4. install the collection from the context as the Containerfile's galaxy stage does, into a
#      throwaway directory, and introspect it as the builder stage does: the collection's
#      meta/execution-environment.yml must be in the tarball and add no requirement.
# Uses the virtualenv ${VENV:-.venv} (make setup), with ansible-builder from
# requirements-test.txt.
#   tests/ee/check.sh          exits non-zero on the first failure
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "ee-check: no virtualenv at $venv (run make setup first)" >&2
  exit 1
fi
bin=$(cd "$venv/bin" && pwd)
export PATH="$bin:$PATH"

step() { printf '\n== ee-check: %s\n' "$*"; }
fail() { printf 'ee-check: FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$bin/ansible-builder" ] || fail "no ansible-builder in $venv (pip install -r requirements-test.txt)"

work=$(mktemp -d "${TMPDIR:-/tmp}/hailo-ee-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)
name=hailo-services-$version.tar.gz
tarball=.tmp/dist/$name
context=.tmp/ee-context

# ---------------------------------------------------------------- build
step "ansible-galaxy collection build (.tmp/dist)"
rm -f "$tarball"
"$bin/ansible-galaxy" collection build --force --output-path .tmp/dist
[ -f "$tarball" ] || fail "no $tarball"
members=$(tar -tzf "$tarball")
grep -qx 'meta/execution-environment.yml' <<<"$members" \
  || fail "$tarball lacks meta/execution-environment.yml (is it in galaxy.yml build_ignore?)"

step "ansible-builder $("$bin/ansible-builder" --version) create ($context)"
rm -rf "$context"
"$bin/ansible-builder" create -f execution-environment.yml --context "$context" --output-filename Containerfile \
  >"$work/create.log" 2>&1 || { cat "$work/create.log" >&2; fail "ansible-builder create"; }
cat "$work/create.log"
# A missing additional_build_files source is only a warning to ansible-builder.
if grep -Ei 'warning|no matches|does not exist' "$work/create.log"; then
  fail "ansible-builder create warned (above)"
fi

# ---------------------------------------------------------------- context
step "the build context"
"$bin/python" - "$context" "$name" meta/runtime.yml <<'EOF' || fail "the build context (above)"
import os
import re
import shlex
import sys
from importlib.metadata import PackageNotFoundError, version as installed

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

context, name, runtime = sys.argv[1:]
errors = []
containerfile = open(os.path.join(context, "Containerfile")).read()
lines = containerfile.splitlines()

# The tarball, in the context and where the galaxy stage installs it from.
in_context = os.path.join(context, "_build", "collections", name)
if not os.path.isfile(in_context):
    errors.append("no %s in the context (execution-environment.yml additional_build_files "
                  "must name the tarball of galaxy.yml's version)" % in_context)
reqs = yaml.safe_load(open(os.path.join(context, "_build", "requirements.yml")))
wanted = {"name": "/build/collections/" + name, "type": "file"}
if reqs.get("collections") != [wanted]:
    errors.append("_build/requirements.yml collections must be exactly [%s], not %s"
                  % (wanted, reqs.get("collections")))
for line in ("COPY _build /build", "WORKDIR /build"):
    if line not in lines:
        errors.append("Containerfile lacks %r (the galaxy stage installs from /build)" % line)
if not any(re.match(r"RUN .*ansible-galaxy collection install .*-r requirements\.yml", l) for l in lines):
    errors.append("Containerfile does not install the collections of requirements.yml")

# ansible-core and ansible-runner, pinned, installed in the base stage.
match = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"$', containerfile, re.M)
refs = {}
if not match:
    errors.append("Containerfile has no ARG ANSIBLE_INSTALL_REFS")
else:
    for ref in shlex.split(match.group(1)):
        req = Requirement(ref)
        refs[req.name] = req
if "RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS" not in lines:
    errors.append("Containerfile does not pip install $ANSIBLE_INSTALL_REFS")

core = refs.get("ansible-core")
requires = SpecifierSet(yaml.safe_load(open(runtime))["requires_ansible"])
if core is None:
    errors.append("ansible-core is not installed by the Containerfile")
else:
    spec = core.specifier
    lower = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    upper = [s for s in spec if s.operator in ("<", "==", "~=")]
    if not lower or not all(v in requires for v in lower):
        errors.append("ansible-core%s: its lowest version must satisfy meta/runtime.yml "
                      "requires_ansible %s" % (spec, requires))
    if not upper:
        errors.append("ansible-core%s has no upper bound: a new major release could break the EE" % spec)
    tested = installed("ansible-core")
    if not spec.contains(tested, prereleases=True):
        errors.append("ansible-core%s excludes %s, the ansible-core the tests run with" % (spec, tested))
    print("ansible-core%s (requires_ansible %s, tested with %s)" % (spec, requires, tested))
runner = refs.get("ansible-runner")
if runner is None:
    errors.append("ansible-runner is not installed by the Containerfile")
else:
    try:
        tested = installed("ansible-runner")
    except PackageNotFoundError:
        tested = None
    if tested and not runner.specifier.contains(tested, prereleases=True):
        errors.append("ansible-runner%s excludes %s, the ansible-runner the tests run with"
                      % (runner.specifier, tested))
    print("ansible-runner%s (tested with %s)" % (runner.specifier, tested or "none"))
if "RUN /output/scripts/check_ansible $PYCMD" not in lines:
    errors.append("Containerfile does not check ansible and ansible-runner in the final image")

for error in errors:
    print("  " + error, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# ---------------------------------------------------------------- galaxy stage, offline
step "install the collection from the context, as the galaxy stage does"
# Away from this checkout's ansible.cfg and .collections (which already hold hailo.services).
sed "s#/build/#$PWD/$context/_build/#" "$context/_build/requirements.yml" >"$work/requirements.yml"
(
  cd "$work"
  env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 \
    "$bin/ansible-galaxy" collection install -r "$work/requirements.yml" \
    --collections-path "$work/collections" --offline
) || fail "ansible-galaxy collection install from the context"
installed=$work/collections/ansible_collections/hailo/services
[ -f "$installed/MANIFEST.json" ] || fail "the collection was not installed from the context"
"$bin/python" -c 'import json, sys; v = json.load(open(sys.argv[1]))["collection_info"]["version"]; sys.exit(v != sys.argv[2])' \
  "$installed/MANIFEST.json" "$version" || fail "the installed collection is not version $version"

step "introspect the installed collection, as the builder stage does"
"$bin/python" "$context/_build/scripts/introspect.py" introspect "$work/collections" \
  --write-pip "$work/pip.txt" --write-bindep "$work/bindep.txt" >"$work/introspect.log" 2>&1 \
  || { cat "$work/introspect.log" >&2; fail "introspect"; }
cat "$work/introspect.log"
# hailo.services is the only collection installed: whatever introspect lists is its own.
"$bin/python" - "$work/introspect.log" <<'EOF' || fail "hailo.services must add no requirement to the EE"
import sys

import yaml

found = yaml.safe_load(open(sys.argv[1]).read().split("---", 1)[1])
extra = {k: v for k, v in found.items() if v}
if extra:
    sys.exit("the collection adds %s (meta/execution-environment.yml)" % extra)
EOF

step "the execution environment's build context is complete ($context)"

# hailo.services: one entry point per job.
#   make reconcile   the main job on the bundled default inventory
#   make test        everything CI runs: unit, integration, lint, sanity, molecule
# Both set up what they need: Debian packages (podman, runc, debootstrap, shellcheck), a
# virtualenv, the test-device image.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/hailo/services
SANITY_DIR ?= /tmp/hailo-services-sanity
SANITY_ROOT := $(SANITY_DIR)/ansible_collections/hailo/services
export CONTAINERS_CONF := $(CURDIR)/molecule/resources/containers.conf
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

SCENARIOS ?= default rollback template template-rollback seed-check fleet faults
IMAGE := localhost/hailo-pi:bookworm
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
SYSTEM_TOOLS := podman runc debootstrap shellcheck git

.PHONY: help setup system-deps image reconcile demo demo-clean test unit integration lint sanity galaxy ee compat molecule build bench clean

help:
	@echo "make demo        roll the port map out onto four local container devices, print the report"
	@echo "make demo-clean  remove the demo devices"
	@echo "make reconcile   compute and print the port map for the bundled catalog"
	@echo "make test        run the whole test suite (sets up everything it needs)"
	@echo "make bench       run the benchmarks under bench/"

# ---------------------------------------------------------------------------- set-up
$(BIN)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

setup: $(BIN)/.installed $(COLLECTION_LINK)

# Debian packages for the container tests (and shellcheck for sanity), installed only if missing.
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq$$missing; \
	fi

# The test-device image, built from Debian packages (set HAILO_IMAGE_REBUILD=1 to force).
image: system-deps
	molecule/resources/build-image.sh

# ---------------------------------------------------------------------------- main job
reconcile: setup
	$(BIN)/ansible-playbook playbooks/reconcile.yml

# The main job on a demo fleet: four systemd containers (own network namespace each), seeded
# once (three with the plan's conflicts, one installed today), then playbooks/reconcile.yml.
# Re-running changes nothing.
DEMO_DEVICES := hailo-fleet-demo-pi1 hailo-fleet-demo-pi2 hailo-fleet-demo-pi3 hailo-fleet-demo-pi4
demo: setup image
	@created="$$(bench/fleet_devices.sh up $(DEMO_DEVICES))"; \
	if [ -n "$$created" ]; then \
	  echo "seeding: $$created"; \
	  $(BIN)/ansible-playbook -i inventory/demo.yml --limit "$$(echo $$created | tr ' ' ',')" \
	    molecule/resources/prepare.yml >/dev/null; \
	fi
	$(BIN)/ansible-playbook -i inventory/demo.yml playbooks/reconcile.yml
	@echo; cat reports/fleet-rollout.md; echo; echo "Report: reports/fleet-rollout.md, reports/fleet-rollout.json"

demo-clean:
	bench/fleet_devices.sh down $(DEMO_DEVICES)

# ---------------------------------------------------------------------------- tests
test: unit integration compat lint sanity galaxy ee molecule
	@echo "All checks passed."

# Unit and integration tests on the oldest ansible-core meta/runtime.yml claims, in their own
# virtualenv (.tmp/venv-oldest, rebuilt when the claimed version or requirements-test.txt change).
compat:
	PYTHON=$(PYTHON) tests/compat/run.sh

# The execution environment's build context (ansible-builder create; building the image needs a
# registry these machines cannot reach).
ee: setup
	VENV=$(VENV) tests/ee/check.sh

# Galaxy-readiness: galaxy-importer on the built tarball, antsibull-docs lint, changelog release.
galaxy: setup
	VENV=$(VENV) tests/galaxy/check.sh

unit: setup
	$(BIN)/python -m pytest tests/unit -q -p no:cacheprovider

integration: setup
	$(BIN)/python -m pytest tests/integration -q -p no:cacheprovider

lint: setup
	$(BIN)/ansible-lint --offline --profile production

# ansible-test wants the collection at .../ansible_collections/<ns>/<name>, outside any other
# git checkout: test a copy of the tracked and new files. Its pip bootstrap script comes from a
# host these machines cannot reach, so our own (tests/sanity/bootstrap_pip.py) stands in.
sanity: setup system-deps
	pip_version=$$($(BIN)/python -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; import types; print(g(types.SimpleNamespace(version="3.11"))["pip"])'); \
	mkdir -p ~/.ansible/test/cache; \
	cp tests/sanity/bootstrap_pip.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C $(SANITY_ROOT) -xf -
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --python 3.11 --venv --color no

# One systemd container per scenario, each with its own network namespace. The lock keeps two
# runs on one machine from sharing a scenario's containers.
molecule: setup image
	for scenario in $(SCENARIOS); do \
	  flock /tmp/hailo-molecule-$$scenario.lock $(BIN)/molecule test -s $$scenario || exit 1; \
	done

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path .tmp/dist

bench: setup image
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_controller.py 20 100
	bench/bench_fleet.sh

clean:
	rm -rf .tmp .collections .pytest_cache .hypothesis

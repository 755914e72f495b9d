# hailo.services: one entry point per job.
#   make reconcile   the main job on the bundled default inventory
#   make test        everything CI runs: unit, integration, lint, sanity, molecule
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

.PHONY: help setup reconcile test unit integration lint sanity build bench clean

help:
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

# ---------------------------------------------------------------------------- main job
reconcile: setup
	$(BIN)/ansible-playbook playbooks/reconcile.yml

# ---------------------------------------------------------------------------- tests
test: unit integration lint sanity
	@echo "All checks passed."

unit: setup
	$(BIN)/python -m pytest tests/unit -q -p no:cacheprovider

integration: setup
	$(BIN)/python -m pytest tests/integration -q -p no:cacheprovider

lint: setup
	$(BIN)/ansible-lint --offline --profile production

# ansible-test wants the collection at .../ansible_collections/<ns>/<name>, outside any other
# git checkout: test a copy of the tracked and new files. Its pip bootstrap script comes from a
# host these machines cannot reach, so our own (tests/sanity/bootstrap_pip.py) stands in.
sanity: setup
	pip_version=$$($(BIN)/python -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; import types; print(g(types.SimpleNamespace(version="3.11"))["pip"])'); \
	mkdir -p ~/.ansible/test/cache; \
	cp tests/sanity/bootstrap_pip.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C $(SANITY_ROOT) -xf -
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --python 3.11 --venv --color no

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path .tmp/dist

bench: setup
	$(BIN)/python bench/bench_engine.py

clean:
	rm -rf .tmp .collections .pytest_cache .hypothesis

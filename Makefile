# The two commands of the README:
#   make sandbox   deploy the whole stack on local containers and print how to reach it
#   make test      run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Mitogen's strategy runs every play of the sandbox and the tests: one Python interpreter per host, kept for the
# run, instead of a new connection and module upload per task (a no-op site.yml takes a fraction of the time).
# ANSIBLE_STRATEGY=linear in the environment goes back to Ansible's own.
export ANSIBLE_STRATEGY_PLUGINS := $(CURDIR)/$(VENV)/mitogen-strategy
export ANSIBLE_STRATEGY ?= mitogen_linear
ALL_SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
# Scenarios that `make test` leaves out until they have passed on the CI machine; run them with
# `make molecule SCENARIOS="..."`. The sandbox deploy of `make test` still exercises their roles end to end.
SCENARIOS_ON_REQUEST ?=
SCENARIOS ?= $(filter-out $(SCENARIOS_ON_REQUEST),$(ALL_SCENARIOS))

.PHONY: test-artifacts help venv engine sandbox sandbox-destroy test lint argspecs unit molecule sandbox-test

help:
	@echo "make sandbox          deploy the sandbox (venv, engine, images, containers, site.yml) and print a summary"
	@echo "make sandbox-destroy  remove the sandbox containers and network, its credentials and SSH state"
	@echo "make test             lint, argument specs, unit tests, every molecule scenario, sandbox deploy + smoke check"

$(BIN)/.stamp: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	ln -sfn "$$($(BIN)/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" \
	  $(VENV)/mitogen-strategy
	touch $@

.collections/ansible_collections/llm_infra/cluster:
	mkdir -p .collections/ansible_collections/llm_infra
	ln -sfn ../../.. .collections/ansible_collections/llm_infra/cluster

venv: $(BIN)/.stamp .collections/ansible_collections/llm_infra/cluster

engine:
	bash scripts/prepare-engine.sh

# SANDBOX_REPLACE_FOREIGN=true replaces sandbox containers left by another checkout instead of refusing them.
SANDBOX_REPLACE_FOREIGN ?= false

# SANDBOX_ENGINE=vllm serves the sandbox's model with vLLM on CPU instead of llama.cpp (inventories/sandbox says why
# llama.cpp is the default); later site.yml runs keep it with -e sandbox_engine=vllm.
SANDBOX_ENGINE ?= llama_cpp

sandbox: venv engine test-artifacts
	$(BIN)/ansible-playbook playbooks/sandbox.yml -e sandbox_replace_foreign=$(SANDBOX_REPLACE_FOREIGN)
	$(BIN)/ansible-playbook playbooks/site.yml -e sandbox_engine=$(SANDBOX_ENGINE)
	$(BIN)/ansible-playbook playbooks/sandbox_summary.yml

sandbox-destroy: venv
	$(BIN)/ansible-playbook playbooks/sandbox.yml -e sandbox_state=absent

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	$(BIN)/pytest -q tests/unit/test_plugin_docs.py tests/unit/test_collection_build.py
	bash scripts/sanity.sh
	$(BIN)/ansible-lint --profile production

argspecs: venv
	$(BIN)/pytest -q tests/unit/test_collection_metadata.py

unit: venv
	$(BIN)/pytest -q --durations=25 tests/unit tests/integration

test-artifacts: venv
	bash scripts/fetch-test-artifacts.sh

# Scenarios run in MOLECULE_LANES parallel lanes (scripts/run-scenarios.sh); each one's log is under tests/output/molecule.
MOLECULE_LANES ?= 2
molecule: venv engine test-artifacts
	MOLECULE_LANES=$(MOLECULE_LANES) bash scripts/run-scenarios.sh $(SCENARIOS)

# The sandbox deploy (site.yml ends with the smoke tests of verify.yml), then a second run that must change nothing.
# The second site.yml is the idempotence check and the secrets check at once: it runs at -vvv with --diff, its
# whole output is kept in $(SANDBOX_LOG), and every secret of the sandbox (credentials store and Vault KV) is
# searched for in it: none may appear. Then testinfra reads the state of every host (tests/hosts/test_host_state.py):
# every service the stack runs rated 4.9 ("OK") or lower by systemd-analyze security, run as a dedicated user with no
# new privileges, nothing listening beyond loopback and the private address but sshd, private keys kept from others.
SANDBOX_LOG ?= tests/output/sandbox-site-vvv.log
sandbox-test: sandbox
	ASSERT_NO_CHANGE_LOG=$(SANDBOX_LOG) bash scripts/assert-no-change.sh $(BIN)/ansible-playbook playbooks/site.yml -vvv --diff
	$(BIN)/ansible-playbook tests/sandbox/scan_secrets.yml -e scan_log=$(CURDIR)/$(SANDBOX_LOG)
	$(BIN)/ansible-playbook tests/sandbox/host_state.yml

# The stages above in order, with the engine, images and artifacts prepared in the background during lint and
# pytest, and a table of the stage times at the end (scripts/test.sh).
test:
	bash scripts/test.sh
	@echo "all test stages passed: lint argspecs unit molecule($(SCENARIOS)) sandbox"

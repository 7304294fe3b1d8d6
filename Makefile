# vygoda: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY := python3
VENV := .vygoda/venv/bin/python

.PHONY: help up down status reset demo test test-rust test-python lint fmt acls services fuzz

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

up: ## install what is missing, start the local platform (idempotent)
	@$(PY) platform/ctl.py up

down: ## stop what `up` started (data stays)
	@$(PY) platform/ctl.py down

status: ## every part of the platform, its address and health
	@$(PY) platform/ctl.py status

reset: ## stop everything and wipe local data, certificates and passwords
	@$(PY) platform/ctl.py reset

demo: up ## the whole pipeline on the bundled data, with a report
	@$(VENV) platform/demo.py

services: ## start vygoda's services (ban filter, mirror, lake writer, jobs scheduler, store sink, client-api serve)
	@$(PY) platform/ctl.py services start

# Every suite runs against the real platform, one after another (the machine has 2 cores, and some
# tests kill brokers or restart the platform). The pipeline test runs the demo first, so that the
# dashboard tests find data from every service and a finished jobs run.
test: up lint test-rust test-python ## every test (starts the platform if needed)

lint: ## formatting and clippy (warnings are errors), ruff on the Python (ruff.toml)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV) -m ruff check .

test-rust:
	cargo test --workspace --no-fail-fast

test-python:
	$(VENV) -m pytest -q tests/python/test_pipeline.py
	$(VENV) -m pytest -q tests/python spark/tests --ignore=tests/python/test_pipeline.py

fmt: ## format the code
	cargo fmt --all

acls: ## regenerate kafka/generated/ (ACL and topic scripts) from kafka/acls.toml and kafka/topics.toml
	cargo build -q -p vygoda-tools --bin vygoda-acls
	for c in prod analytics; do target/debug/vygoda-acls render --cluster $$c > kafka/generated/acls-$$c.sh; \
	  target/debug/vygoda-acls topics --cluster $$c > kafka/generated/topics-$$c.sh; done
	target/debug/vygoda-acls check

fuzz: ## fuzz the decoders and parsers, FUZZ_SECONDS (60) per target; nightly Rust; not part of test
	fuzz/run.sh

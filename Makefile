# vygoda: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY := python3
VENV := .vygoda/venv/bin/python

.PHONY: help up down status reset demo test test-rust test-python lint fmt acls bench

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

test: up lint test-rust test-python ## every test (starts the platform if needed)

lint: ## formatting and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

test-rust:
	cargo test --workspace --no-fail-fast

test-python:
	$(VENV) -m pytest -q tests/python spark/tests

fmt: ## format the code
	cargo fmt --all

acls: ## regenerate production kafka-acls commands from kafka/acls.toml
	cargo run -q -p vygoda-common --bin vygoda-acls -- render --cluster prod > kafka/generated/acls-prod.sh
	cargo run -q -p vygoda-common --bin vygoda-acls -- render --cluster analytics > kafka/generated/acls-analytics.sh

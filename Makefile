# Two commands on a fresh machine:
#   make run   — chat with the approval-gated agent (embedded defaults: SQLite, offline model;
#                Ollama when it is reachable with the model pulled)
#   make test  — lint, type-check and run the whole test suite
#   (make serve — the approval service and web inbox; open the login link it prints)
.PHONY: run serve test install lint typecheck pytest doctor bench clean

install:
	@bash scripts/install.sh

run: install
	.venv/bin/hitl chat

serve: install
	.venv/bin/hitl serve

doctor: install
	.venv/bin/hitl doctor

lint: install
	.venv/bin/ruff check src tests $(wildcard bench examples)
	.venv/bin/ruff format --check src

typecheck: install
	.venv/bin/mypy src/langgraph_ollama_local

pytest: install
	.venv/bin/python -m pytest -q -ra

test: lint typecheck pytest

bench: install
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

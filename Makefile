# Two commands on a fresh machine:
#   make run   — chat with the approval-gated agent (embedded defaults: SQLite, offline model;
#                Ollama when it is reachable with the model pulled)
#   make test  — lint, type-check and run the whole test suite
#   (make serve — the approval service and web inbox; open the login link it prints)
.PHONY: run serve test install lint typecheck pytest doctor bench faults clean

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
	.venv/bin/python -m pytest -q -ra --durations=25

test: lint typecheck pytest

bench: install
	.venv/bin/python bench/run_all.py

# The long fault campaigns (CI runs them small inside `make test`): 1000 kill -9s, 40
# PostgreSQL restarts, 10 minutes with one worker's clock 20 s ahead. About an hour, so
# pytest-timeout's 10-minute limit per test (pyproject) is lifted here.
faults: install
	HITL_CRASH_TRIALS=1000 .venv/bin/python -m pytest -s --timeout=0 tests/runtime/test_crash_recovery.py
	HITL_FAULT_RESTARTS=40 HITL_SKEW_SECONDS=600 .venv/bin/python -m pytest -s --timeout=0 tests/runtime/test_database_faults.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

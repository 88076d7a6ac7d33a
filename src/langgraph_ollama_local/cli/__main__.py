"""`python -m langgraph_ollama_local.cli` — the same as the `hitl` script."""

from langgraph_ollama_local.cli.app import main

main()

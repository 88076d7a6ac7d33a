"""The `hitl` command line: chat with approvals, check the setup, draw the graph."""

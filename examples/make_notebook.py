"""Regenerate `04_human_in_the_loop.ipynb` from the script's `# %%` cells (kept in sync by a test)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
SCRIPT = HERE / "04_human_in_the_loop.py"
NOTEBOOK = HERE / "04_human_in_the_loop.ipynb"


def cells_of(script: str) -> list[tuple[str, str]]:
    """(kind, source) for each `# %%` cell; markdown cells lose their `# ` prefixes."""
    parts = re.split(r"^# %%( \[markdown\])?\n", script, flags=re.MULTILINE)
    cells = []
    for marker, body in zip(parts[1::2], parts[2::2], strict=True):
        body = body.strip("\n")
        if marker:
            cells.append(("markdown", "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())))
        elif body:
            cells.append(("code", body))
    return cells


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        for kind, src in cells_of(SCRIPT.read_text())
    ]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    return nb


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}", file=sys.stderr)

"""``python -m ftbench`` runs the CLI."""

from ftbench.cli import main

main()

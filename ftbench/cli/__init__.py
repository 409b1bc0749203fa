"""The ``ftbench`` command: a thin shell over the library, one module per group of commands.

- ``submit``: ``validate``, ``tasks``, ``schema`` (what a contributor runs);
- ``evaluation``: ``plan``, ``evaluate``, ``verify``, ``collect`` (what produces records);
- ``publish``: ``check``, ``build``, ``report`` (what turns records into the board);
- ``data``: ``data fetch`` (the held-out files, checked against their tasks' sha256);
- ``baselines``: ``baselines`` (reference predictions every entry is compared with).

Each command parses its options, calls one library function and prints what it returns.
Heavy modules (torch, transformers) are imported inside the commands that need them, so
``ftbench --help``, ``validate``, ``tasks``, ``schema``, ``plan``, ``check``, ``report`` and
``build`` never import torch.
"""

from __future__ import annotations

from pathlib import Path

import click

import ftbench
from ftbench.cli import baselines, contamination, data, evaluation, publish, submit


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ftbench.__version__, prog_name="ftbench")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Board repository (default: nearest folder with [tool.ftbench] in pyproject.toml).",
)
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """ftbench: evaluate fine-tuned models on fixed held-out data and publish a leaderboard.

    \b
    Example:
      ftbench validate submissions/*
      ftbench evaluate submissions/minilm-lora-r8 --task sst2 --limit 200
      ftbench build
    """
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


for _module in (submit, data, evaluation, publish, baselines, contamination):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()

"""ftbench: a leaderboard for fine-tuned language models.

The package is a pipeline, one stage per module:

    spec -> models -> tasks -> runner -> metrics / efficiency -> record -> leaderboard -> site

Only ``ftbench.models`` and ``ftbench.runner`` import torch and transformers.
"""

__version__ = "0.1.0"

# Bumped whenever a change in ftbench could change a recorded number (tokenisation,
# batching, metric definitions). Part of every record's content key.
EVAL_LOGIC_VERSION = "1"

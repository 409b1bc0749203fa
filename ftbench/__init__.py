"""ftbench: a leaderboard for fine-tuned language models.

The package is a pipeline; its file list reads in the order data flows:

    spec, submissions -> tasks -> models/ -> runner -> metrics, efficiency -> record
      -> jobs (what is current) -> evaluate / verify / check / collect
      -> leaderboard -> board/ (snapshot) -> report, site/ (static pages) ; cli/ on top

Only ``ftbench.models.hf`` imports torch and transformers, and only when a backend loads a model.
"""

__version__ = "0.1.0"

# Bumped whenever a change in ftbench could change a recorded number (tokenisation,
# batching, metric definitions). Part of every record's content key.
EVAL_LOGIC_VERSION = "1"

# Examples per forward pass unless ``--batch-size`` says otherwise. Part of the content key.
DEFAULT_BATCH_SIZE = 64

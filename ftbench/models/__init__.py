"""The model stage: pinned weights -> a local folder -> a loaded model behind a small interface.

- ``resolve``: a weights reference (pinned Hub id or a folder in the submission) to local files;
- ``base``: the interface of each model family (``Classifier``) and what a model reports about itself;
- ``backends``: the backend registry and ``load_model``, the one way a job's model is loaded;
- ``hf``: transformers + peft (imports torch; only loaded when a backend calls it);
- ``dummy``: a weightless model for tests.
"""

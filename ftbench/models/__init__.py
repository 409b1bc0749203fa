"""Model backends behind one small interface (``ftbench.models.base.Classifier``).

``resolve`` and ``base`` are light; ``hf`` imports torch, transformers and peft and is only
imported by the evaluation path.
"""

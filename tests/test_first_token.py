"""The scoring pass's shortcut: an encoder classifier's last layer at the first token only
(``ftbench.models.first_token``), against the full forward on small random BERTs, and the
runner's use of it (the pass only, never the measurement)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ftbench.measure import Policy  # noqa: E402
from ftbench.models.dummy import DummyClassifier  # noqa: E402
from ftbench.models.first_token import FirstTokenLayer, agrees, first_token_only, last_layers  # noqa: E402
from ftbench.runner import run_classifier  # noqa: E402


def tiny_bert(cls=None, labels: int = 3, seed: int = 0):
    """A random 3-layer BERT classifier (hidden 32, 4 heads), as transformers builds it."""
    config = transformers.BertConfig(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=labels,
        attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    return (cls or transformers.BertForSequenceClassification)(config).eval()


def padded_batch(lengths: list[int], seed: int = 1) -> dict:
    """Token ids of texts of ``lengths`` tokens, padded to the longest, with their mask."""
    rng = np.random.default_rng(seed)
    width = max(lengths)
    ids = np.zeros((len(lengths), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, 120, n)
        mask[row, :n] = 1
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}


def probabilities(model, batch) -> torch.Tensor:
    with torch.inference_mode():
        return torch.softmax(model(**batch).logits, dim=-1)


@pytest.mark.parametrize("lengths", [[7], [9, 9, 9], [12, 3, 8, 1, 5]])
def test_the_shortcut_gives_the_full_forwards_probabilities(lengths):
    model = tiny_bert()
    batch = padded_batch(lengths)
    full = probabilities(model, batch)
    layer = model.bert.encoder.layer[-1]
    with first_token_only(model) as taken:
        assert taken and isinstance(model.bert.encoder.layer[-1], FirstTokenLayer)
        short = probabilities(model, batch)
        hidden = model.bert(**batch).last_hidden_state
    assert hidden.shape[1] == 1  # the last layer ran at one position only
    assert torch.allclose(full, short, atol=1e-6)
    assert model.bert.encoder.layer[-1] is layer  # put back as found
    # padding matters: the same texts without it give the same probabilities through the shortcut
    with first_token_only(model):
        for row, n in enumerate(lengths):
            alone = {k: v[row : row + 1, :n] for k, v in batch.items()}
            assert torch.allclose(probabilities(model, alone)[0], full[row], atol=1e-6)


def test_the_shortcut_is_the_first_tokens_row_of_the_full_last_layer():
    """Hidden state at position 0 after the last layer, through both paths (not only the head's
    probabilities, which a saturated softmax could make agree by chance)."""
    model = tiny_bert(seed=3)
    batch = padded_batch([10, 4, 7], seed=5)
    with torch.inference_mode():
        full = model.bert(**batch).last_hidden_state[:, 0]
        with first_token_only(model):
            short = model.bert(**batch).last_hidden_state[:, 0]
    assert torch.allclose(full, short, atol=1e-5)
    assert full.abs().max() > 0.1  # a real signal, not two zero vectors


def test_an_unmerged_peft_adapter_takes_the_shortcut_too():
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(
        task_type="SEQ_CLS", r=4, target_modules=["query", "value", "dense"], init_lora_weights=False
    )
    model = peft.get_peft_model(tiny_bert(), config).eval()
    batch = padded_batch([6, 11, 2])
    assert last_layers(model) is not None
    assert agrees(model, batch, 1e-6)
    with first_token_only(model):
        short = probabilities(model, batch)
    assert torch.allclose(short, probabilities(model, batch), atol=1e-6)


def test_a_head_that_reads_other_positions_does_not_take_it():
    # token classification reads every position: not in the allowed heads
    token_model = tiny_bert(transformers.BertForTokenClassification)
    assert last_layers(token_model) is None
    with first_token_only(token_model) as taken:
        assert not taken
    assert not agrees(token_model, padded_batch([4]), 1.0)


def test_agrees_refuses_a_shortcut_that_changes_the_probabilities():
    model = tiny_bert(seed=7)
    pooler = model.bert.pooler
    # a pooler that averages the positions: the head no longer reads the first token alone
    pooler.forward = lambda hidden: pooler.activation(pooler.dense(hidden.mean(dim=1)))
    assert last_layers(model) is not None  # the class says first token: the check must catch it
    assert not agrees(model, padded_batch([9, 3, 6]), 1e-5)


def test_a_decoder_or_chunked_last_layer_is_left_alone():
    model = tiny_bert()
    model.bert.encoder.layer[-1].chunk_size_feed_forward = 4
    assert last_layers(model) is None


def test_the_classifier_checks_it_once_and_says_so_in_its_notes(tmp_path):
    from ftbench.models.base import ModelInfo
    from ftbench.models.hf import HFClassifier

    vocab = tmp_path / "vocab.txt"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefg"]
    vocab.write_text("\n".join(words + [f"w{i}" for i in range(120 - len(words))]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab))
    info = ModelInfo("transformers", 1, None, "float32", "cpu", 64)
    texts = ["a b c", "d e", "a b c d e f g", "b"]

    def classifier(model):
        clf = HFClassifier(model, tokenizer, torch.device("cpu"), info)
        clf.token_lengths(texts)
        return clf

    clf = classifier(tiny_bert(labels=2))
    full = clf.predict_proba(texts)
    with clf.scoring_pass():
        short = clf.predict_proba(texts)
        assert isinstance(clf.model.bert.encoder.layer[-1], FirstTokenLayer)
    assert np.abs(full - short).max() < 1e-6
    assert "last encoder layer at the first token only" in clf.info.notes[-1]
    with clf.scoring_pass():  # checked once: no second note
        pass
    assert len(clf.info.notes) == 1
    # a model whose head reads more than the first token: the check fails, the pass runs in full
    odd = tiny_bert(labels=2, seed=4)
    pooler = odd.bert.pooler
    pooler.forward = lambda hidden: pooler.activation(pooler.dense(hidden.mean(dim=1)))
    clf = classifier(odd)
    full = clf.predict_proba(texts)
    with clf.scoring_pass():
        assert not isinstance(clf.model.bert.encoder.layer[-1], FirstTokenLayer)
        assert np.array_equal(clf.predict_proba(texts), full)
    assert clf.info.notes[-1].startswith("scoring pass: full forward")


class Watched(DummyClassifier):
    """A dummy that notes, for each call, whether it came inside ``scoring_pass``."""

    def __init__(self):
        super().__init__(2)
        self.inside = False
        self.calls: list[tuple[int, bool]] = []

    def predict_proba(self, texts):
        self.calls.append((len(texts), self.inside))
        return super().predict_proba(texts)

    @contextmanager
    def scoring_pass(self) -> Iterator[None]:
        self.inside = True
        try:
            yield
        finally:
            self.inside = False


def test_the_runner_uses_it_for_the_pass_and_never_for_the_measurement():
    model = Watched()
    texts = [" ".join(["w"] * (1 + i % 9)) + f" {i}" for i in range(40)]
    policy = Policy(min_iterations=4, min_seconds=0.0, latency_sample=4, throughput_repeats=2, throughput_tokens=10)
    run = run_classifier(model, texts, batch_size=8, progress=False, policy=policy)
    assert run.measurement is not None and not model.inside
    inside = [n for n, within in model.calls if within]
    outside = [n for n, within in model.calls if not within]
    assert sum(inside) == len(texts)  # the pass: every text once, all inside
    assert 1 in outside and len(outside) > 4  # warm-up and measurement (batch-1 calls among them): outside

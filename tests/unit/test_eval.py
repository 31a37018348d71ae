"""Evaluation maths on models whose outputs are known: bits per byte, sliding windows, multiple choice."""
from __future__ import annotations

import math

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from storage.tokenizer import LoadedTokenizer
from train.eval import (
    EvalInputError,
    EvalModel,
    continuation_window,
    document_windows,
    evaluate_token_documents,
    score_windows,
)
from train.tasks import TaskItem, score_from_loglikelihoods, score_tasks, split_context


class Uniform(torch.nn.Module):
    """Logits all zero: every token has probability 1/V whatever the context."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, idx):
        return torch.zeros(*idx.shape, self.vocab), None


class Successor(torch.nn.Module):
    """Puts (almost) all probability on ``previous token + 1``: a loss of ~0 proves inputs and targets align."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, idx):
        return torch.nn.functional.one_hot((idx + 1) % self.vocab, self.vocab).float() * 50.0


class Fixed(torch.nn.Module):
    """Context-free logits: log p(token) is the same at every position."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, idx):
        return self.logits.expand(*idx.shape, len(self.logits)).clone()


def test_bits_per_byte_of_uniform_logits_is_tokens_ln_v_over_ln2_bytes():
    vocab = 7
    docs = [[1, 2, 3], [4, 5], [6] * 40]  # the long one is scored through several sliding windows
    nbytes = [10, 6, 50]
    m = evaluate_token_documents(Uniform(vocab), docs, nbytes, eos_id=0, context=8, stride=3, batch_size=2)
    assert (m.documents, m.tokens, m.bytes) == (3, 45, 66)
    assert m.nll_nats == pytest.approx(45 * math.log(7), rel=1e-6)  # float32 log-softmax
    assert m.loss == pytest.approx(math.log(7))
    assert m.perplexity == pytest.approx(7.0)
    assert m.bits_per_byte == pytest.approx(45 * math.log(7) / (math.log(2) * 66), rel=1e-6)


def test_empty_documents_are_not_counted_and_no_document_is_refused():
    m = evaluate_token_documents(Uniform(5), [[1], [], [2, 3]], [3, 0, 4], eos_id=0, context=4)
    assert (m.documents, m.tokens, m.bytes) == (2, 3, 7)
    with pytest.raises(EvalInputError, match="no usable document"):
        evaluate_token_documents(Uniform(5), [[], []], [0, 0], eos_id=0, context=4)


def test_sliding_windows_score_every_token_once_with_the_documented_context():
    ids = list(range(1, 10))  # 9 tokens after the EOS: seq = [0, 1, ..., 9]
    ws = document_windows(ids, eos_id=0, context=4, stride=2, key=0)
    # window 1 scores targets 1..4 from inputs 0..3; then each window advances by 2 and keeps 2 of context
    assert [(w.inputs, w.targets, w.score_from) for w in ws] == [
        ([0, 1, 2, 3], [1, 2, 3, 4], 0),
        ([2, 3, 4, 5], [3, 4, 5, 6], 2),
        ([4, 5, 6, 7], [5, 6, 7, 8], 2),
        ([5, 6, 7, 8], [6, 7, 8, 9], 3),
    ]
    scored = [t for w in ws for t in w.targets[w.score_from:]]
    assert scored == ids
    with pytest.raises(ValueError, match="stride"):
        document_windows(ids, 0, context=4, stride=5, key=0)


@pytest.mark.parametrize("context, stride", [(4, 1), (4, 4), (5, 2), (64, 32)])
def test_inputs_and_targets_align_across_window_boundaries(context, stride):
    ids = list(range(1, 30))
    m = evaluate_token_documents(Successor(40), [ids], [29], eos_id=0, context=context, stride=stride)
    assert m.tokens == 29
    assert m.nll_nats < 1e-10


def test_scores_do_not_depend_on_batching():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(11, 11)
    model = torch.nn.Sequential(emb)
    docs = [[(7 * i + j) % 10 + 1 for j in range(n)] for i, n in enumerate([3, 17, 1, 9, 25])]
    a = evaluate_token_documents(model, docs, [10] * 5, eos_id=0, context=6, stride=2, batch_size=1)
    b = evaluate_token_documents(model, docs, [10] * 5, eos_id=0, context=6, stride=2, batch_size=64)
    assert a.tokens == b.tokens == 55
    assert a.nll_nats == pytest.approx(b.nll_nats, rel=1e-9)


def test_continuation_window_cuts_the_context_on_the_left():
    w = continuation_window([0, 1, 2, 3, 4], [5, 6], context=4, key=3)
    assert (w.inputs, w.targets, w.score_from, w.key) == ([2, 3, 4, 5], [3, 4, 5, 6], 2, 3)
    with pytest.raises(EvalInputError, match="does not fit"):
        continuation_window([0], [1, 2, 3, 4, 5], context=4, key=0)


def _word_tokenizer() -> LoadedTokenizer:
    tok = Tokenizer(models.WordLevel({"<|endoftext|>": 0, "a": 1, "b": 2, "c": 3}, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return LoadedTokenizer(tok, "<test>", "0" * 64, 4)


def test_multiple_choice_acc_and_acc_norm_match_a_hand_computed_example():
    # p(token) = [1, 1, 2, 4] / 8 at every position: log p(a) = ln 1/8, log p(b) = ln 2/8, log p(c) = ln 4/8
    em = EvalModel(model=Fixed([0.0, 0.0, math.log(2), math.log(4)]), tokenizer=_word_tokenizer(), eos_id=0,
                   context=16, device=torch.device("cpu"))
    items = [
        # ll(" b b") = 2 ln(1/4) = -2.773 (4 bytes: -0.693/byte); ll(" a") = ln(1/8) = -2.079 (2 bytes: -1.040/byte)
        TaskItem("t1", "c", (" b b", " a"), 0),
        # ll(" c") = ln(1/2) beats everything, raw and normalized
        TaskItem("t2", "a b", (" a", " c", " b"), 1),
    ]
    assert split_context(em.tokenizer, "c ", "b b") == ([3], [2, 2])  # the trailing space moves to the choice
    res = score_tasks(em, items, keep_items=True)
    lls = [r["loglikelihoods"] for r in res["per_item"]]
    assert lls[0] == pytest.approx([2 * math.log(1 / 4), math.log(1 / 8)], abs=1e-6)
    assert lls[1] == pytest.approx([math.log(1 / 8), math.log(1 / 2), math.log(1 / 4)], abs=1e-6)
    assert [r["pred"] for r in res["per_item"]] == [1, 1]
    assert [r["pred_norm"] for r in res["per_item"]] == [0, 1]
    assert res["acc"] == 0.5 and res["acc_norm"] == 1.0
    assert res["chance"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_acc_norm_divides_by_utf8_bytes_and_ties_go_to_the_first_choice():
    items = [TaskItem("x", "", ("é", "ee"), 1), TaskItem("y", "", ("a", "b"), 0)]
    # "é" is 2 bytes like "ee": equal normalized scores -> the first wins; raw -1 > -1.5 also picks 0
    res = score_from_loglikelihoods(items, [[-1.0, -1.5], [-2.0, -2.0]])
    assert res["acc"] == 0.5 and res["acc_norm"] == 0.5
    res = score_from_loglikelihoods(items[:1], [[-3.0, -2.0]])
    assert res["acc"] == 1.0 and res["acc_norm"] == 1.0


def test_score_windows_reports_greedy_matches():
    ws = [continuation_window([0, 1], [2, 3], 8, 0), continuation_window([0, 1], [2, 5], 8, 1)]
    nll, count, greedy = score_windows(Successor(8), ws, batch_size=4, device=torch.device("cpu"))
    assert count == [2, 2] and greedy == [True, False]
    assert nll[0] < 1e-10 < 1 < nll[1]

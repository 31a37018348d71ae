"""The GPT: causal attention equal to softmax(QK^T/sqrt(d_k))V, weight tying, configs, generation."""
from __future__ import annotations

import math

import pytest
import torch

import train.model as model_module
from train.model import GPT, ModelConfig, model_config_from


def test_module_is_this_repository():
    assert model_module.__file__.replace("\\", "/").endswith("train/model.py")


def _tiny(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(model_config_from("tiny", vocab_size=97, **kw)).eval()


def test_attention_is_the_papers_formula_with_a_causal_mask():
    m = _tiny()
    attn = m.blocks[0].attn
    x = torch.randn(2, 5, m.cfg.d_model)
    q, k, v = attn.qkv(x).split(m.cfg.d_model, dim=2)
    h, dk = attn.n_head, m.cfg.d_model // attn.n_head
    q, k, v = (z.view(2, 5, h, dk).transpose(1, 2) for z in (q, k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(dk)
    scores = scores.masked_fill(torch.triu(torch.ones(5, 5, dtype=torch.bool), 1), float("-inf"))
    y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(2, 5, m.cfg.d_model)
    assert torch.allclose(attn(x), attn.proj(y), atol=1e-5)


def test_future_tokens_do_not_change_past_logits():
    m = _tiny()
    a = torch.randint(0, 97, (1, 12))
    b = a.clone()
    b[0, 8:] = (b[0, 8:] + 1) % 97
    la, _ = m(a)
    lb, _ = m(b)
    assert torch.allclose(la[0, :8], lb[0, :8], atol=1e-5) and not torch.allclose(la[0, 8:], lb[0, 8:])


def test_weight_tying_and_loss():
    m = _tiny()
    assert m.lm_head.weight.data_ptr() == m.tok_emb.weight.data_ptr()
    idx = torch.randint(0, 97, (3, 10))
    logits, loss = m(idx, torch.randint(0, 97, (3, 10)))
    assert logits.shape == (3, 10, 97)
    assert abs(loss.item() - math.log(97)) < 0.5  # near uniform at init
    # pre-norm: every block normalizes its inputs
    assert isinstance(m.blocks[0].ln1, torch.nn.LayerNorm) and isinstance(m.ln_f, torch.nn.LayerNorm)


def test_configs_presets_and_yaml(tmp_path):
    assert model_config_from("gpt2-124m", vocab_size=50257).n_layer == 12
    path = tmp_path / "m.yaml"
    path.write_text("n_layer: 3\nn_head: 2\nd_model: 32\n")
    cfg = model_config_from(path, vocab_size=10)
    assert (cfg.n_layer, cfg.d_model, cfg.vocab_size) == (3, 32, 10)
    with pytest.raises(ValueError, match="preset"):
        model_config_from("huge-model-nobody-has")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(vocab_size=10, d_model=30, n_head=4)
    with pytest.raises(ValueError, match="extra"):
        model_config_from({"n_layers": 2})
    with pytest.raises(ValueError, match="max_seq_len"):
        _tiny(max_seq_len=8)(torch.zeros(1, 9, dtype=torch.long))


def test_generate_greedy_is_deterministic_and_stops_at_eos():
    m = _tiny()
    idx = torch.tensor([[1, 2, 3]])
    a = m.generate(idx, 6, temperature=0)
    b = m.generate(idx, 6, temperature=0)
    assert torch.equal(a, b) and a.shape == (1, 9) and torch.equal(a[:, :3], idx)
    first = int(a[0, 3])
    stopped = m.generate(idx, 6, temperature=0, eos_id=first)
    assert stopped.shape == (1, 4)
    g = torch.Generator().manual_seed(1)
    s = m.generate(idx, 5, temperature=1.0, top_k=5, generator=g)
    assert s.shape == (1, 8) and int(s.max()) < 97

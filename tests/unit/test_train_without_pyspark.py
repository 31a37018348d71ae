"""The trainer runs on a GPU box without pyspark: ``train`` imports only ``schemas`` and ``storage``.

A fresh interpreter blocks every import of pyspark (and py4j) and of the pipeline, quality and jobs
packages with a meta-path finder that also records each attempt (so an ``ImportError`` swallowed by a
``try`` still fails the test), then imports every module of ``train``, writes a tiny shard folder with
:class:`storage.shards.ShardWriter` and trains a few real steps, through the API and through the CLI.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

SCRIPT = textwrap.dedent('''
    import importlib.abc
    import json
    import math
    import sys
    from pathlib import Path

    BLOCKED = ("pyspark", "py4j", "pipelines", "quality", "jobs")
    attempts = []


    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ImportError(f"blocked in this test: {name}")
            return None


    assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED], "imported before the block"
    sys.meta_path.insert(0, Block())
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("the block does not work")
    attempts.clear()

    import numpy as np

    import train
    import train.checkpoint
    import train.cli
    import train.dataset
    import train.model
    import train.sampling
    import train.trainer
    from storage.shards import ShardWriter

    root = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    with ShardWriter(root / "shards", vocab_size=64, tokenizer_sha256="0" * 64, eos_id=0, eos_appended=True,
                     dataset_version="no-spark-1", target_shard_bytes=2000, row_group_bytes=500) as w:
        for i in range(60):
            w.write_document(f"{i:04d}", list(rng.integers(1, 64, size=int(rng.integers(20, 60)))) + [0], "s", "en")
    cfg = train.trainer.TrainConfig(shards=str(root / "shards"), out=str(root / "out"), steps=3, seq_len=16,
                                    batch_size=2, model="tiny", warmup_steps=1, log_every=1, eval_every=0,
                                    eval_batches=1, ckpt_every=0, device="cpu", verify="hash")
    summary = train.trainer.train(cfg)
    assert summary["steps"] == 3 and math.isfinite(summary["loss"]), summary
    assert summary["checkpoint"] and Path(summary["checkpoint"]).is_file(), summary
    rc = train.cli.main(["--shards", str(root / "shards"), "--out", str(root / "out"), "--steps", "4",
                         "--seq-len", "16", "--batch-size", "2", "--model", "tiny", "--warmup-steps", "1",
                         "--log-every", "1", "--eval-every", "0", "--ckpt-every", "0", "--device", "cpu",
                         "--resume"])
    assert rc == 0, rc
    print(json.dumps({"attempts": attempts, "blocked_loaded": sorted(
        m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
''')


def test_train_imports_and_trains_without_pyspark_or_the_pipeline_library(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"attempts": [], "blocked_loaded": []}, result
    metrics = [json.loads(ln) for ln in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3, 4]

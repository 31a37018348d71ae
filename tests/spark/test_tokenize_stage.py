"""The tokenize stage in Spark: shards byte-identical whatever the partitioning, ids decode to the text."""
from __future__ import annotations

import random

import pyarrow.parquet as pq
import pytest

import pipelines.stages.tokenize as stage_module
from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.tokenize import TokenizeWriter
from pipelines.text.tokenize import decode, load_tokenizer, save_tokenizer, train_bpe_tokenizer
from schemas.config import PipelineConfig
from schemas.config.tokenize import TokenizeSection
from storage.shards import verify_shards

WORDS = "data engineering pipelines tokenize shards spark arrow parquet trainer window résumé naïve 東京".split()


def _texts(n: int) -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tok.json"
    save_tokenizer(train_bpe_tokenizer(_texts(200), 320, min_frequency=1), path)
    return path


def _ctx(spark, tmp_path, section, name: str, partitions: int = 4) -> RunContext:
    cfg = PipelineConfig(tokenize=section)
    return RunContext(spark=spark, config=cfg, run_id="run-1", staging_dir=tmp_path / name / "staging",
                      work_dir=tmp_path / name / "work", num_partitions=partitions)


def _df(spark, texts, with_lang: bool):
    """Curated-like rows; with ``with_lang`` also the language and near-dedup stages' columns."""
    rows = [(f"{i * 7919 % 1000:04d}-{i}", t, "web" if i % 3 else "books")
            + (("en" if i % 2 else None), i % 4 + 1) * with_lang for i, t in enumerate(texts)]
    cols = "doc_id string, text string, source string" + (", lang string, dup_cluster_size int" if with_lang else "")
    return spark.createDataFrame(rows, cols)


def test_module_is_this_repository():
    assert stage_module.__file__.replace("\\", "/").endswith("pipelines/stages/tokenize.py")


def test_shards_are_identical_across_partitionings_and_decode_to_the_text(spark, tmp_path, tokenizer_file):
    texts = _texts(150)
    section = TokenizeSection(enabled=True, tokenizer_path=str(tokenizer_file), target_shard_bytes=4096,
                              row_group_bytes=1024, dataset_version="v-test")
    outs = []
    for name, parts in (("a", 1), ("b", 5)):
        ctx = _ctx(spark, tmp_path, section, name, partitions=parts)
        stage = TokenizeWriter(section, ctx)
        stage.prepare()
        assert ctx.assets["tokenizer"]["sha256"] == load_tokenizer(tokenizer_file).sha256
        stats = stage.run(_df(spark, texts, with_lang=True).repartition(parts))
        assert stats["documents"] == 150 and stats["errors"] == 0 and stats["shards"] > 2
        assert ctx.stage_info["tokenize"] == stats
        outs.append(stage.output_dir)
    a, b = outs
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in a.iterdir():
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name
    assert verify_shards(a, expected_tokenizer_sha256=load_tokenizer(tokenizer_file).sha256).ok

    tok = load_tokenizer(tokenizer_file)
    eos = tok.token_id("<|endoftext|>")
    table = pq.read_table(sorted(a.glob("shard-*.parquet")))
    doc_ids = table.column("doc_id").to_pylist()
    assert doc_ids == sorted(doc_ids)
    by_id = {f"{i * 7919 % 1000:04d}-{i}": t for i, t in enumerate(texts)}
    columns = [table.column(c).to_pylist() for c in ("input_ids", "n_tokens", "lang", "dup_cluster_size")]
    for doc_id, ids, n, lang, cluster in zip(doc_ids, *columns):
        assert ids[-1] == eos and len(ids) == n
        assert decode(tok, ids) == by_id[doc_id]
        assert lang == ("en" if int(doc_id.split("-")[1]) % 2 else None)
        assert cluster == int(doc_id.split("-")[1]) % 4 + 1  # near-dedup's cluster size travels into the shards


def test_without_lang_column_and_without_eos(spark, tmp_path, tokenizer_file):
    section = TokenizeSection(enabled=True, tokenizer_path=str(tokenizer_file), eos="none", copy_tokenizer=False)
    ctx = _ctx(spark, tmp_path, section, "c")
    stage = TokenizeWriter(section, ctx)
    stats = stage.run(_df(spark, _texts(20), with_lang=False))
    table = pq.read_table(stage.output_dir / "shard-00000.parquet")
    assert stats["shards"] == 1 and table.column("lang").null_count == 20
    assert table.column("dup_cluster_size").null_count == 20  # near-dedup off: unknown, not 1
    eos = load_tokenizer(tokenizer_file).token_id("<|endoftext|>")
    assert all(eos not in ids for ids in table.column("input_ids").to_pylist())
    idx = verify_shards(stage.output_dir).index
    assert idx.eos_appended is False and idx.tokenizer_file is None and idx.config_sha256 == ctx.config.sha256()


def test_prepare_fails_with_a_fix(spark, tmp_path):
    section = TokenizeSection(enabled=True, tokenizer_path=str(tmp_path / "missing.json"))
    with pytest.raises(StageConfigError, match="corpusforge tokenizer train"):
        TokenizeWriter(section, _ctx(spark, tmp_path, section, "d")).prepare()
    with pytest.raises(ValueError, match="tokenizer_path is required"):
        TokenizeSection(enabled=True)

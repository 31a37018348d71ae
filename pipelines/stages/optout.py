"""The opt-out stage: TDM reservations honoured right after ingest, before any other stage sees the text.

Rules (``pipelines.text.optout``, docs/compliance.md), in precedence order: ``domains`` (a user list,
suffix-matched), ``tdm_reservation`` (TDMRep header or meta), ``robots_noai`` (``noai`` in X-Robots-Tag or
robots meta), ``robots_txt`` (the host's robots.txt disallows the path for a configured crawler). Columns
added: ``optout_rules`` (every rule that fired), ``optout_evidence`` (the deciding signal, content-free) and
``optout_reason`` (``optout:<rule>``).

The robots.txt source (a folder of files by host, or Common Crawl robots.txt WARC files) is read once on the
driver into the compact rules of the configured user agents only, and shipped to the workers with the
stage's settings. After the outputs are written, :meth:`OptoutStage.finalize` counts documents per rule and
per signal from the written tables into run.json ``stage_info.optout``.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import urljoin

import pyarrow as pa

from pipelines.readers.warc import read_http_responses
from pipelines.text.optout import (
    RULES,
    DomainListError,
    HostRobots,
    OptoutEvaluator,
    OptoutSettings,
    check_domains,
    read_domain_file,
    robots_key,
)
from pipelines.text.pii_offline import offline_extractor, suffix_list_snapshot_sha256
from pipelines.text.robots import DISALLOW_ALL, MAX_BYTES, RobotsTxt

from .base import Batch, DocumentStage, StageConfigError

log = logging.getLogger(__name__)

_WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.zst", ".arc.gz")
_MAX_REDIRECTS = 5


# ------------------------------------------------------------------------------------ robots.txt source


def _robots_entry(body: bytes, content_type: Optional[str], agents: Sequence[str], stats: dict[str, int]
                  ) -> HostRobots:
    parsed = RobotsTxt.parse(body, content_type)
    if parsed.truncated:
        stats["truncated"] = stats.get("truncated", 0) + 1
    if parsed.status != "ok":
        return HostRobots(parsed.status)
    return HostRobots("ok", tuple((a, parsed.rules_for(a)) for a in agents))


def _host_from_file(path: Path, root: Optional[Path]) -> Optional[str]:
    """The host a robots.txt file is for: ``HOST.txt``, or ``HOST/robots.txt`` (never the given folder's name)."""
    if path.name.lower() == "robots.txt":
        if root is not None and path.parent == root:
            return None
        name = path.parent.name
    elif path.name.lower().endswith(".txt"):
        name = path.name[: -len(".txt")]
    else:
        return None
    key = robots_key(f"http://{name}/")
    return key[0] if key else None


def _source_files(source: str) -> list[str]:
    p = Path(source)
    if p.is_dir():
        return sorted(str(f) for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
    if p.is_file():
        return [str(p)]
    found = sorted(glob.glob(source, recursive=True))
    if not found:
        raise StageConfigError(f"optout.robots_txt.source {source!r} matches no file or folder; give a folder of "
                               "robots.txt files named by host, or Common Crawl robots.txt WARC files")
    return [f for f in found if os.path.isfile(f)]


def load_robots_source(source: str, agents: Sequence[str], on_unreachable: str = "disallow"
                       ) -> tuple[dict[str, HostRobots], dict[str, Any]]:
    """Read a robots.txt source into ``{host[:port]: HostRobots}`` and statistics for run.json.

    Folder files are robots.txt bodies named by host. WARC files hold fetched robots.txt responses: a 2xx
    body is parsed, 4xx is unavailable (allow all), 5xx unreachable, 3xx followed up to 5 hops within the
    source. Several fetches of one host: the latest ``WARC-Date`` wins, then https over http.
    """
    stats: dict[str, int] = {}
    files = _source_files(source)
    root = Path(source) if Path(source).is_dir() else None
    hosts: dict[str, tuple[tuple, HostRobots]] = {}  # host -> (preference key, entry)
    fetched: dict[str, tuple[int, Optional[str], Any]] = {}  # robots URI -> (status, location, entry)
    warc_counters: dict[str, int] = {}
    digest = hashlib.sha256()
    agents = list(agents)

    def offer(host: str, pref: tuple, entry: HostRobots) -> None:
        if host not in hosts or pref > hosts[host][0]:
            hosts[host] = (pref, entry)

    for f in files:
        low = f.lower()
        if low.endswith(_WARC_SUFFIXES):
            stats["warc_files"] = stats.get("warc_files", 0) + 1
            for resp in read_http_responses(f, counters=warc_counters):
                key = robots_key(resp.uri)
                if key is None or not key[1].startswith("/robots.txt"):
                    stats["records_not_robots"] = stats.get("records_not_robots", 0) + 1
                    continue
                digest.update(f"{resp.uri}\t{resp.status}\t{resp.date}\n".encode())
                digest.update(hashlib.sha256(resp.body[:MAX_BYTES]).digest())
                status = resp.status or 0
                entry: Any
                if 200 <= status < 300:
                    entry = _robots_entry(resp.body, resp.content_type, agents, stats)
                elif 300 <= status < 400:
                    entry = None  # resolved below
                elif 400 <= status < 500:
                    entry = HostRobots("unavailable")
                else:
                    entry = HostRobots("unreachable")
                fetched[resp.uri] = (status, resp.location, entry)
                scheme_pref = 1 if (resp.uri or "").lower().startswith("https:") else 0
                if entry is not None:
                    offer(key[0], (resp.date, scheme_pref), entry)
                else:
                    hosts.setdefault(key[0], ((resp.date, scheme_pref, "redirect"), HostRobots("unavailable")))
                    stats.setdefault("redirects", 0)
                    stats["redirects"] += 1
            continue
        host = _host_from_file(Path(f), root)
        if host is None:
            stats["files_ignored"] = stats.get("files_ignored", 0) + 1
            continue
        with open(f, "rb") as fh:
            body = fh.read(MAX_BYTES + 1)
        digest.update(f"{host}\n".encode())
        digest.update(hashlib.sha256(body).digest())
        stats["text_files"] = stats.get("text_files", 0) + 1
        offer(host, ("", 2), _robots_entry(body, None, agents, stats))

    # Redirects: follow within the source (RFC 9309 2.3.1.2: at least five hops), else unavailable.
    for uri, (status, location, entry) in sorted(fetched.items()):
        if entry is not None:
            continue
        target, hops, resolved = uri, 0, None
        while hops < _MAX_REDIRECTS:
            nxt = fetched.get(target)
            if nxt is None:
                break
            if nxt[2] is not None:
                resolved = nxt[2]
                break
            if not nxt[1]:
                break
            target = urljoin(target, nxt[1])
            hops += 1
        key = robots_key(uri)
        if key is not None and resolved is not None:
            pref = hosts[key[0]][0]
            if len(pref) == 3:  # the host's chosen fetch is this redirect: give it the target's verdict
                hosts[key[0]] = ((pref[0], pref[1]), resolved)
    by_status: dict[str, int] = {}
    out: dict[str, HostRobots] = {}
    for host, (_, entry) in sorted(hosts.items()):
        if entry.status == "unreachable" and on_unreachable == "disallow":
            entry = HostRobots("unreachable", tuple((a, DISALLOW_ALL) for a in agents))
        out[host] = entry
        by_status[entry.status] = by_status.get(entry.status, 0) + 1
    info = {"source": source, "files": len(files), "hosts": len(out),
            "hosts_by_status": dict(sorted(by_status.items())), **dict(sorted(stats.items()))}
    if warc_counters:
        info["warc_records_skipped"] = dict(sorted(warc_counters.items()))
    return out, {**info, "sha256": digest.hexdigest()}


# ------------------------------------------------------------------------------------ the stage


class OptoutStage(DocumentStage):
    name = "optout"
    #: Cheap per-document checks over a few columns: recomputing beats writing the table out.
    materialize = False
    columns = (
        ("optout_rules", pa.list_(pa.string())),
        ("optout_evidence", pa.string()),
        ("optout_reason", pa.string()),
    )
    reads = ("url",)
    optional_reads = ("x_robots_tag", "meta_robots", "tdm_reservation_header", "tdm_reservation_meta")

    def prepare(self) -> None:
        s = self.section
        info: dict[str, Any] = {"rules": self._active_rules(), "mode": s.mode}
        domains: list[str] = []
        if s.domains.enabled and (s.domains.names or s.domains.file):
            entries = list(s.domains.names)
            if s.domains.file:
                try:
                    entries += read_domain_file(s.domains.file)
                except OSError as exc:
                    raise StageConfigError(f"optout.domains.file {s.domains.file}: cannot be read "
                                           f"({exc.strerror}); give a text file of one domain per line") from None
            try:
                domains = check_domains(entries, offline_extractor())
            except DomainListError as exc:
                raise StageConfigError(str(exc)) from None
            info["domains"] = len(domains)
            self.ctx.assets["optout_public_suffix_list"] = {"path": "tldextract/.tld_set_snapshot",
                                                           "sha256": suffix_list_snapshot_sha256()}
            self.ctx.assets["optout_domains"] = {
                "path": s.domains.file or "optout.domains.names",
                "sha256": hashlib.sha256("\n".join(domains).encode()).hexdigest()}
        robots: dict[str, HostRobots] = {}
        if s.robots_txt.enabled and s.robots_txt.source:
            robots, rinfo = load_robots_source(s.robots_txt.source, s.robots_txt.user_agents,
                                               s.robots_txt.on_unreachable)
            self.ctx.assets["optout_robots_txt"] = {"path": s.robots_txt.source, "sha256": rinfo.pop("sha256")}
            info["robots_txt"] = rinfo
            log.info("optout: robots.txt source %s: %d hosts %s", s.robots_txt.source, rinfo["hosts"],
                     rinfo["hosts_by_status"])
        self._settings = OptoutSettings(
            tdm_reservation=s.tdm_reservation, robots_noai=s.robots_noai,
            robots_txt=bool(s.robots_txt.enabled and s.robots_txt.source), domains=tuple(domains),
            user_agents=tuple(s.robots_txt.user_agents), on_unreachable=s.robots_txt.on_unreachable, robots=robots)
        info["rules"] = self._active_rules(bool(domains), bool(robots))
        self.ctx.stage_info["optout"] = info

    def _active_rules(self, have_domains: bool = False, have_robots: bool = False) -> list[str]:
        s = self.section
        on = {"domains": have_domains, "tdm_reservation": s.tdm_reservation, "robots_noai": s.robots_noai,
              "robots_txt": have_robots}
        return [r for r in RULES if on[r]]

    def worker_payload(self) -> Any:
        self.ensure_prepared()
        return self._settings

    @classmethod
    def load(cls, payload: OptoutSettings) -> OptoutEvaluator:
        return OptoutEvaluator(payload)

    @classmethod
    def process(cls, model: OptoutEvaluator, batch: Batch) -> dict[str, Sequence[Any]]:
        n = len(batch)
        none = [None] * n
        urls = batch.column("url")
        xr = batch.column("x_robots_tag") or none
        mr = batch.column("meta_robots") or none
        th = batch.column("tdm_reservation_header") or none
        tm = batch.column("tdm_reservation_meta") or none
        rules, evidence, reasons = [], [], []
        for i in range(n):
            fired, ev, reason = model.evaluate(urls[i], xr[i], mr[i], th[i], tm[i])
            rules.append(fired)
            evidence.append(ev)
            reasons.append(reason)
        return {"optout_rules": rules, "optout_evidence": evidence, "optout_reason": reasons}

    def finalize(self, kept) -> None:
        """Count documents per rule and per signal from the written curated and rejected tables."""
        from pyspark.sql import functions as F  # deferred: pyspark, driver side only

        frames = []
        for table in ("curated", "rejected"):
            d = self.ctx.staging_dir / table
            if d.is_dir() and any(d.glob("*.parquet")):
                frames.append(self.ctx.spark.read.parquet(str(d)))
        if not frames:
            return
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
        cols = set(df.columns)

        def has(name: str, cond):
            return F.sum(F.when(cond, 1).otherwise(0)) if name in cols else F.lit(0)

        def contains(name: str, token: str):
            return has(name, F.array_contains(F.col(name), token)) if name in cols else F.lit(0)

        aggs = [
            has("optout_reason", F.col("optout_reason").isNotNull()).alias("reserved"),
            has("tdm_reservation_header", F.col("tdm_reservation_header")).alias("tdm_reservation_header"),
            has("tdm_reservation_meta", F.col("tdm_reservation_meta")).alias("tdm_reservation_meta"),
            has("tdm_policy", F.col("tdm_policy").isNotNull()).alias("tdm_policy"),
            contains("x_robots_tag", "noai").alias("x_robots_tag_noai"),
            contains("meta_robots", "noai").alias("meta_robots_noai"),
            contains("x_robots_tag", "noimageai").alias("x_robots_tag_noimageai"),
            contains("meta_robots", "noimageai").alias("meta_robots_noimageai"),
            has("license_url", F.col("license_url").isNotNull()).alias("license_url"),
            has("web_signal_issues", F.col("web_signal_issues").isNotNull()).alias("web_signal_issues"),
        ]
        row = df.agg(*aggs).collect()[0].asDict()
        by_rule: dict[str, int] = dict.fromkeys(RULES, 0)
        by_reason: dict[str, int] = {}
        if "optout_rules" in cols:
            for r in (df.select(F.explode("optout_rules").alias("r")).groupBy("r").count().collect()):
                by_rule[r["r"]] = int(r["count"])
            for r in df.filter(F.col("optout_reason").isNotNull()).groupBy("optout_reason").count().collect():
                by_reason[r["optout_reason"]] = int(r["count"])
        info = self.ctx.stage_info.setdefault("optout", {})
        if self._settings.robots_txt and "url" in cols:
            # Coverage of the robots.txt source: documents whose host it has no robots.txt for get no verdict.
            hosts = self.ctx.spark.createDataFrame([(h,) for h in sorted(self._settings.robots)], "_h string")
            doc_hosts = df.select(F.lower(F.expr("parse_url(url, 'HOST')")).alias("_h")).filter(F.col("_h").isNotNull())
            with_url = doc_hosts.count()
            covered = doc_hosts.join(F.broadcast(hosts), "_h", "left_semi").count()
            info.setdefault("robots_txt", {})["documents_without_robots"] = with_url - covered
        info["documents_reserved"] = int(row.pop("reserved") or 0)
        info["by_rule"] = by_rule
        info["by_reason"] = dict(sorted(by_reason.items()))
        info["signals"] = {k: int(v or 0) for k, v in sorted(row.items())}

"""The documented cluster path, run as a user runs it.

A Spark standalone master and two one-core workers are started from the pyspark package (module fixture,
stopped by pid). The pipeline runs with every stage on (a JSONL and a WARC input, exact and near dedup,
language, quality, PII with NER, bias, tokenize) through the commands of the README's "On a cluster"
section, parsed from the README itself, so that the documented path is the tested path:

* the zip route: ``zip -qr corpusforge.zip pipelines ...`` and ``spark-submit --py-files corpusforge.zip``;
* the archive route: ``corpusforge pack-env`` and ``spark-submit --archives env.tar.gz#environment``;
* lost executors: in the zip route's run, one worker's executor JVM is killed while near dedup runs; Spark
  retries the work and the run still matches local mode.

Every run must be content-identical to a local-mode run of the same inputs and run id (Parquet tables by
schema, row groups and values, as ``scripts/compare_runs.py`` compares them; token shards byte for byte).

Executors get a Python with the project's dependencies but without corpusforge itself (the venv minus its
editable install, as on a cluster node), and spark-submit runs outside the checkout: our code reaches them
only through what the documented command ships.

The test cluster's own configuration (its ``spark-defaults.conf``, as a cluster administrator would set it)
gives the driver and executor JVMs the C1-only JIT that ``corpusforge run`` uses for small local inputs: the
runs here are tiny and the machine small, so C2 compilation would mostly compete with the work for CPU.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = Path(sys.executable)  # the venv's python (not resolved: a venv's python is a symlink)
RUN_ID = "cluster-e2e"
CONFIG = "demo"  # the bundled preset, by name
# Every stage of the demo preset is on (ingest, exact and near dedup, language, quality, PII with NER, bias,
# tokenize); these only size Spark and the outputs for a ~60-document corpus.
SETS = ["spark.shuffle_partitions=2", "output.num_files=2", "tokenize.target_shard_bytes=8192",
        "tokenize.row_group_bytes=2048", "pii.ner=true"]
SUBMIT_TIMEOUT = 420


def _load_compare_runs():
    spec = importlib.util.spec_from_file_location("compare_runs", REPO / "scripts" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare_runs = _load_compare_runs()


# ---------------------------------------------------------------------------------- the README's commands
def _shell_lines(markdown: str) -> list[str]:
    """Command lines of the ```bash blocks of ``markdown``: continuations joined, comments dropped."""
    lines = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", markdown, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if line:
                lines.append(" ".join(line.split()))
    return lines


def _section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of its level or above (fenced code skipped)."""
    lines, out, level, fenced = markdown.splitlines(keepends=True), None, 0, False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"(#+) (.*?)\s*$", line)
        if out is None:
            if m and m.group(2) == heading:
                out, level = [], len(m.group(1))
        elif m and len(m.group(1)) <= level:
            break
        else:
            out.append(line)
    assert out is not None, f"no '{heading}' section"
    return "".join(out)


def readme_cluster_commands() -> dict[str, str]:
    """The commands of the README's "On a cluster" section, by role: zip, submit_zip, pack_env, submit_archive."""
    lines = _shell_lines(_section((REPO / "README.md").read_text(encoding="utf-8"), "On a cluster"))
    found: dict[str, str] = {}
    for line in lines:
        argv = shlex.split(line)
        if argv[0] == "zip":
            found.setdefault("zip", line)
        elif "pack-env" in argv:
            found.setdefault("pack_env", line)
        elif argv[0] == "spark-submit" and "--archives" in argv:
            found.setdefault("submit_archive", line)
        elif argv[0] == "spark-submit" and "--py-files" in argv:
            found.setdefault("submit_zip", line)
    return found


def _resolve_submit(line: str, master: str, executor_python: Path, inputs: list[Path], out: Path) -> list[str]:
    """The README's spark-submit line for this cluster: its placeholders (master URL, venv python, the job
    script, --config/--input/--output values) replaced, everything else kept as written."""
    argv = shlex.split(line)
    script = next(i for i, a in enumerate(argv) if a.endswith("run_pipeline.py"))
    spark_args, job_args = argv[1:script], argv[script + 1:]
    resolved = [str(PYTHON.parent / "spark-submit")]
    i = 0
    while i < len(spark_args):
        a = spark_args[i]
        if a == "--master":
            resolved += [a, master]
            i += 2
            continue
        if a == "--conf" and spark_args[i + 1].split("=", 1)[0] in ("spark.pyspark.python",
                                                                      "spark.pyspark.driver.python"):
            key, value = spark_args[i + 1].split("=", 1)
            # a path inside a shipped archive (./environment/bin/python) stays; a venv path is ours
            resolved += [a, f"{key}={value if value.startswith('./') else executor_python}"]
            i += 2
            continue
        resolved.append(a)
        i += 1
    resolved.append(str(REPO / argv[script]))
    skip = {"--config": 1, "--input": 1, "--output": 1}
    i = 0
    while i < len(job_args):
        if job_args[i] in skip:
            i += 2
            continue
        resolved.append(job_args[i])
        i += 1
    resolved += ["--config", CONFIG]
    for p in inputs:
        resolved += ["--input", str(p)]
    resolved += ["--output", str(out), "--run-id", RUN_ID]
    for s in SETS:
        resolved += ["--set", s]
    return resolved


def test_readme_documents_the_tested_cluster_commands():
    """The README names both routes, with the flags the tests below rely on; docs/cluster.md repeats them."""
    cmds = readme_cluster_commands()
    assert "zip" in cmds and "submit_zip" in cmds, f"README 'On a cluster' lacks the zip route: {cmds}"
    zip_argv = shlex.split(cmds["zip"])
    for package in ("pipelines", "jobs", "schemas", "storage", "quality", "train"):
        assert package in zip_argv, f"the README's zip command does not ship {package}/"
    submit = shlex.split(cmds["submit_zip"])
    assert "--py-files" in submit and any(a.startswith("spark.pyspark.python=") for a in submit)
    assert not any(a.startswith("spark.executorEnv.PYTHONPATH") for a in submit)
    doc = (REPO / "docs" / "cluster.md").read_text(encoding="utf-8")
    doc_lines = _shell_lines(doc)
    for role, line in cmds.items():
        assert line in doc_lines, f"docs/cluster.md does not repeat the README's {role} command: {line}"


# ---------------------------------------------------------------------------------- inputs and environment
def _warc_record(rtype: str, rid: str, uri: str, content_type: str, body: bytes) -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{rid}>\r\n"
            f"WARC-Date: 2024-05-01T00:00:00Z\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body + b"\r\n\r\n"


def write_warc(path: Path, docs: list[dict]) -> None:
    """A per-record gzip WARC: a warcinfo record, then each doc as an HTML ``response`` (even positions)
    or a WET-style ``conversion`` record (odd positions)."""
    import gzip

    out = [gzip.compress(_warc_record("warcinfo", "info", "", "application/warc-fields", b"software: test\r\n"),
                         mtime=0)]
    for i, d in enumerate(docs):
        if i % 2 == 0:
            paragraphs = "".join(f"<p>{p}</p>" for p in d["text"].split("\n") if p.strip())
            html = (f"<html><head><title>t</title><script>var tracker = 1;</script></head>"
                    f"<body><article>{paragraphs}</article></body></html>").encode("utf-8")
            body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
            rec = _warc_record("response", d["id"], d["url"], "application/http; msgtype=response", body)
        else:
            rec = _warc_record("conversion", d["id"], d["url"], "text/plain", d["text"].encode("utf-8"))
        out.append(gzip.compress(rec, mtime=0))
    path.write_bytes(b"".join(out))


def make_corpus(root: Path) -> Path:
    """About 60 documents of the demo corpus: a JSONL file (planted exact and near duplicates, PII, junk, one
    malformed line, an exact copy under a new id) and a WARC file (HTML responses and conversion records,
    one of them the text of a JSONL document)."""
    import gzip

    demo = REPO / "pipelines" / "assets" / "demo"
    manifest = json.loads((demo / "manifest.json").read_text(encoding="utf-8"))
    lines = (demo / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    lines += gzip.decompress((demo / "part-00001.jsonl.gz").read_bytes()).decode("utf-8").splitlines()
    docs = {d["id"]: d for d in map(json.loads, lines)}
    planted = [m["id"] for c in manifest["near_duplicates"][:2] for m in c["members"]]
    planted += [c["base"] for c in manifest["near_duplicates"][:2]]
    planted += [i for g in manifest["exact_duplicates"][:2] for i in g["ids"]]
    planted += [p["id"] for p in manifest["pii"][:4]] + [j["id"] for j in manifest["junk"][:4]]
    others = [i for i in sorted(docs) if i not in planted]
    in_jsonl = sorted(set(planted)) + others[:24]
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = [json.dumps(docs[i], ensure_ascii=False) for i in in_jsonl]
    rows += [json.dumps(dict(docs[in_jsonl[-1]], id="exact-copy"), ensure_ascii=False), "{broken"]
    (raw / "part.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_warc(raw / "crawl.warc.gz", [docs[i] for i in others[24:40]] + [dict(docs[others[0]], id="warc-copy")])
    return raw


def executor_python(root: Path) -> Path:
    """A venv whose site-packages are the test venv's, minus its ``.pth`` files (the editable install of
    corpusforge among them): the project's dependencies without the project, as on a cluster node."""
    env = root / "deps-venv"
    site = Path(sysconfig.get_paths()["purelib"])
    real_python = Path(os.path.realpath(PYTHON))
    (env / "bin").mkdir(parents=True)
    lib = env / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    lib.mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = {real_python.parent}\ninclude-system-site-packages = false\n"
                                    f"version = {sys.version.split()[0]}\n")
    (env / "bin" / "python").symlink_to(real_python)
    (lib / "deps.pth").write_text(f"{site}\n")  # a path line: site-packages joins sys.path, its .pth files do not run
    probe = subprocess.run([str(env / "bin" / "python"), "-c",
                            "import importlib.util as u, pyspark, pyarrow; print(u.find_spec('pipelines') is None)"],
                           capture_output=True, text=True, cwd=root, env=_clean_env())
    assert probe.stdout.strip() == "True", f"executor python sees the checkout or lacks pyspark: {probe}"
    return env / "bin" / "python"


# ---------------------------------------------------------------------------------- the cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a daemon by pid (spark-class execs the JVM, so the pid is the daemon's)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)


#: JVM options of the test cluster (daemons, drivers, executors): C1 only, see the module docstring.
QUICK_JIT = "-XX:TieredStopAtLevel=1"


def _write_conf_dir(root: Path) -> Path:
    """A Spark configuration folder whose ``spark-defaults.conf`` gives drivers and executors the quick JIT."""
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "spark-defaults.conf").write_text(f"spark.driver.extraJavaOptions {QUICK_JIT}\n"
                                              f"spark.executor.extraJavaOptions {QUICK_JIT}\n", encoding="utf-8")
    return conf


def _clean_env() -> dict[str, str]:
    """The environment of the daemons and of spark-submit: loopback only, no path to the checkout, the test
    cluster's configuration folder (the quick JIT)."""
    import pyspark

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYSPARK_GATEWAY_PORT",
                        "SPARK_CONF_DIR", "SPARK_HOME")}
    env.update(SPARK_HOME=os.path.dirname(pyspark.__file__), SPARK_LOCAL_IP="127.0.0.1",
               SPARK_MASTER_HOST="127.0.0.1", PATH=f"{PYTHON.parent}{os.pathsep}{env.get('PATH', '')}",
               SPARK_DAEMON_JAVA_OPTS=QUICK_JIT)
    if _CONF_DIR is not None:
        env["SPARK_CONF_DIR"] = str(_CONF_DIR)
    return env


_CONF_DIR: Optional[Path] = None  # set for the module's duration by the fixture below


@pytest.fixture(scope="module", autouse=True)
def spark_conf_dir(tmp_path_factory) -> Iterator[Path]:
    """The test cluster's configuration folder, used by the daemons and every spark-submit of this module."""
    global _CONF_DIR
    _CONF_DIR = _write_conf_dir(tmp_path_factory.mktemp("spark-conf"))
    try:
        yield _CONF_DIR
    finally:
        _CONF_DIR = None


class Cluster:
    """A standalone master and two one-core workers on 127.0.0.1."""

    def __init__(self, root: Path):
        self.root = root
        self.env = dict(_clean_env(), SPARK_WORKER_CORES="1", SPARK_WORKER_MEMORY="2g")
        self.port, self.ui = _free_port(), _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.work_dirs = [root / "worker-1", root / "worker-2"]
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:
            proc = subprocess.Popen([str(PYTHON.parent / "spark-class"), *argv], env=self.env, cwd=self.root,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self._spawn("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(self.port), "--webui-port", str(self.ui)])
        for i, work in enumerate(self.work_dirs, 1):
            work.mkdir()
            self._spawn(f"worker-{i}", ["org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
                                        "--cores", "1", "--memory", "2g", "--webui-port", str(_free_port()),
                                        "--work-dir", str(work)])
        self.wait_for_workers(2)

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=5) as r:
            return json.loads(r.read())

    def wait_for_workers(self, n: int, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise AssertionError(f"a Spark daemon exited early ({p.args[1]}, code {p.returncode}); "
                                         f"logs in {self.logs}")
            try:
                if self.state().get("aliveworkers", 0) >= n:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{n} workers did not register with the master in {timeout}s; logs in {self.logs}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            _stop(p)
        for unpacked in (d for w in self.work_dirs for d in w.glob("app-*/*/environment")):
            shutil.rmtree(unpacked, ignore_errors=True)  # an unpacked --archives environment: GBs


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.stop()
    assert all(p.poll() is not None for p in c.procs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def deps_python(tmp_path_factory) -> Path:
    return executor_python(tmp_path_factory.mktemp("executor-env"))


class LocalRun:
    """The reference: the same inputs, config and run id through ``corpusforge run`` in local mode. It runs
    in the background while the cluster starts and the first cluster run goes (Spark leaves cores idle)."""

    def __init__(self, root: Path, corpus: Path):
        self.out = root / "out"
        self.log = root / "local.log"
        cmd = [str(PYTHON.parent / "corpusforge"), "run", "--config", CONFIG, "--input", str(corpus),
               "--output", str(self.out), "--run-id", RUN_ID]
        for s in SETS:
            cmd += ["--set", s]
        env = dict(os.environ)
        env.pop("PYSPARK_GATEWAY_PORT", None)
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=f, stderr=subprocess.STDOUT)
        self.checked = False

    def result(self) -> Path:
        rc = self.proc.wait(SUBMIT_TIMEOUT)
        assert rc == 0, self.log.read_text(errors="replace")[-4000:]
        if not self.checked:
            run = json.loads((self.out / "run.json").read_text())
            counts, by_reason = run["counts"], run["counts"]["rejected_by_reason"]
            ran = {st["name"] for st in run["stages"]}
            assert ran >= {"exact_dedup", "language", "quality", "near_dedup", "pii", "bias"}, ran
            assert run["config"]["pii"]["ner"] and run["config"]["tokenize"]["enabled"], run["config"]
            # every filtering stage removed something from this corpus: the comparison covers them all
            assert counts["quarantined"] >= 1 and by_reason.get("exact_dedup:duplicate", 0) >= 2, counts
            for stage in ("language:", "quality:", "near_dedup:"):
                assert any(k.startswith(stage) for k in by_reason), (stage, counts)
            warc = [f for f in run["inputs"] if f["path"].endswith(".warc.gz")]
            assert warc and warc[0]["records"] >= 15, run["inputs"]
            assert (self.out / "shards" / "index.json").exists()
            self.checked = True
        return self.out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(60)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, corpus) -> Iterator[LocalRun]:
    run = LocalRun(tmp_path_factory.mktemp("local"), corpus)
    try:
        yield run
    finally:
        run.stop()


# ---------------------------------------------------------------------------------- runs and checks
def submit(cmd: list[str], cwd: Path, log: Path, timeout: int = SUBMIT_TIMEOUT) -> subprocess.CompletedProcess:
    with open(log, "w") as f:
        r = subprocess.run(cmd, cwd=cwd, env=_clean_env(), stdout=f, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"spark-submit exited {r.returncode}:\n{shlex.join(cmd)}\n"
                             f"{log.read_text(errors='replace')[-5000:]}")
    return r


def assert_same_run(out: Path, reference: Path, master: str) -> None:
    run = json.loads((out / "run.json").read_text())
    ref = json.loads((reference / "run.json").read_text())
    assert run["spark"]["master"] == master and ref["spark"]["master"].startswith("local")
    assert run["run_id"] == ref["run_id"] == RUN_ID
    assert run["counts"] == ref["counts"]
    for table in ("curated", "rejected", "quarantine", "ledger"):
        assert any((reference / table).rglob("*.parquet")), f"reference run wrote no {table}/"
    assert compare_runs.compare(reference, out, compare_runs.TABLES), "runs differ (see the comparison above)"
    # token shards are pyarrow-written from globally sorted rows: byte-identical, index included
    shards = {p.name: p.read_bytes() for p in (out / "shards").iterdir()}
    assert shards == {p.name: p.read_bytes() for p in (reference / "shards").iterdir()}


def _zip_code(cmds: dict[str, str], into: Path) -> None:
    """The README's zip command, run in the checkout, writing the zip into ``into`` (spark-submit's cwd)."""
    argv = shlex.split(cmds["zip"])
    target = next(i for i, a in enumerate(argv) if a.endswith(".zip"))
    argv[target] = str(into / argv[target])
    subprocess.run(argv, cwd=REPO, check=True, timeout=120)


# ---------------------------------------------------------------------------------- lost executors
def executor_pids(work_dir: Path) -> dict[int, Path]:
    """JVMs of executors (CoarseGrainedExecutorBackend) whose working directory is under ``work_dir``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"CoarseGrainedExecutorBackend" not in cmdline:
                continue
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if work_dir in cwd.parents:
            found[int(proc.name)] = cwd
    return found


def _wait_for(predicate, timeout: float, what: str, proc: Optional[subprocess.Popen] = None, poll: float = 0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver exited ({proc.returncode}) before {what}")
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _driver_ui(log: Path) -> Optional[str]:
    m = re.search(r"Successfully started service 'SparkUI' on port (\d+)", log.read_text(errors="replace"))
    return f"http://127.0.0.1:{m.group(1)}/api/v1" if m else None


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _active_tasks(api: str, executor_id: str) -> int:
    try:
        (app,) = _get_json(f"{api}/applications")
        executors = _get_json(f"{api}/applications/{app['id']}/executors")
    except (OSError, ValueError):
        return 0
    return sum(e.get("activeTasks", 0) for e in executors if e["id"] == executor_id)


def _removed_executor(api: str, executor_id: str) -> Optional[dict]:
    """The driver's record of a removed executor (``/allexecutors``), once it has one."""
    try:
        (app,) = _get_json(f"{api}/applications")
        executors = _get_json(f"{api}/applications/{app['id']}/allexecutors")
    except (OSError, ValueError):
        return None
    return next((e for e in executors if e["id"] == executor_id and not e.get("isActive", True)), None)


def _failed_tasks(api: str) -> list[dict]:
    """Every failed task attempt the driver knows of (any stage)."""
    try:
        (app,) = _get_json(f"{api}/applications")
        stages = _get_json(f"{api}/applications/{app['id']}/stages?details=true&taskStatus=FAILED")
    except (OSError, ValueError):
        return []
    return [t for st in stages for t in (st.get("tasks") or {}).values()]


def _task_held_by(api: str, executor_id: str, hold: float = 2.0):
    """A predicate: the driver has shown a task running on the executor for ``hold`` seconds on end. On a
    frozen executor a task launched there cannot finish, while a count that the status listener has not
    caught up with yet (a task that ended just before the freeze) drops back to zero within that time."""
    since: Optional[float] = None

    def check() -> bool:
        nonlocal since
        if _active_tasks(api, executor_id) < 1:
            since = None
            return False
        since = since or time.time()
        return time.time() - since >= hold

    return check


@pytest.mark.slow
def test_zip_route_matches_local_mode_despite_a_lost_executor(local_run, packing, cluster, corpus, deps_python,
                                                              tmp_path):
    """The zip route (the README's zip and spark-submit commands), and in the same run a lost executor:
    worker 1's executor JVM dies (SIGKILL) while it runs a near-dedup task; the standalone worker relaunches
    an executor, Spark reruns the lost task, and the run is still content-identical to local mode. (Up to
    the kill this is the plain zip-route run; one application proves both, instead of two full runs.) The
    local reference run and the archive packing go on meanwhile.

    Deterministic: as soon as near dedup starts writing its first table the executor is frozen (SIGSTOP),
    so a task the driver hands it can no longer finish; once the driver's REST API has shown a task
    running on it for two seconds, it is killed.
    """
    cmds = readme_cluster_commands()
    _zip_code(cmds, tmp_path)
    out = tmp_path / "out"
    near_dedup_work = out.with_name(f".{out.name}.tmp-{RUN_ID}") / "_work" / "near_dedup"
    cmd = _resolve_submit(cmds["submit_zip"], cluster.url, deps_python, [corpus], out)
    log = tmp_path / "driver.log"
    pid = None
    with open(log, "w") as f:
        # its own process group: spark-submit's JVM and the driver's Python can be stopped together
        driver = subprocess.Popen(cmd, cwd=tmp_path, env=_clean_env(), stdout=f, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        victims = _wait_for(lambda: executor_pids(cluster.work_dirs[0]), 180, "worker 1's executor", driver)
        assert len(victims) == 1, victims
        (pid, first_dir), = victims.items()
        api = _wait_for(lambda: _driver_ui(log), 60, "the driver's UI", driver)
        _wait_for((near_dedup_work / "signatures").exists, SUBMIT_TIMEOUT, "the near-dedup stage", driver)
        os.kill(pid, signal.SIGSTOP)
        _wait_for(_task_held_by(api, first_dir.name), 90, "a task on the frozen executor", driver, poll=0.2)
        # near dedup's last step had not written its table yet: the kill lands inside the stage
        finished_before_kill = (near_dedup_work / "result").exists()
        os.kill(pid, signal.SIGKILL)
        dead = _wait_for(lambda: _removed_executor(api, first_dir.name), 120, "the driver to drop the executor",
                         driver, poll=0.2)
        failed = _wait_for(lambda: _failed_tasks(api), 60, "the lost task to be failed", driver, poll=0.2)
        rc = driver.wait(SUBMIT_TIMEOUT)
    finally:
        if pid is not None and Path(f"/proc/{pid}").exists():
            try:
                os.kill(pid, signal.SIGKILL)  # never leave a frozen executor behind
            except ProcessLookupError:
                pass
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(30)
    text = log.read_text(errors="replace")
    assert rc == 0, f"spark-submit exited {rc}:\n{text[-5000:]}"
    assert not finished_before_kill, "the executor was killed after near dedup had finished"
    assert re.search(rf"Lost executor {first_dir.name}\b", text), "the driver did not notice the lost executor"
    # the task it held failed with it (ExecutorLostFailure) and ran again elsewhere: the run succeeded
    assert any("ExecutorLost" in (t.get("errorMessage") or "") for t in failed), failed
    # the worker relaunched an executor for the application (a new executor id, a new folder)
    relaunched = [d.name for d in first_dir.parent.iterdir() if d.is_dir() and d != first_dir]
    assert relaunched, f"worker 1 launched no new executor after the kill ({first_dir.parent})"
    print(f"killed executor {first_dir.name} (pid {pid}), relaunched as {relaunched}; removed: "
          f"{dead.get('removeReason')}; failed tasks: {[(t['taskId'], t.get('errorMessage')) for t in failed]}")
    assert_same_run(out, local_run.result(), cluster.url)


class Packing:
    """The README's ``corpusforge pack-env`` command, run in the background from the start of the module
    (it takes tens of seconds of mostly one core, which the Spark runs leave idle)."""

    def __init__(self, root: Path, line: str):
        self.root, self.log = root, root / "pack-env.log"
        argv = shlex.split(line)
        argv[0] = str(PYTHON.parent / argv[0]) if argv[0] == "corpusforge" else argv[0]
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen(argv, cwd=root, env=_clean_env(), stdout=f, stderr=subprocess.STDOUT)

    def wait(self) -> Path:
        rc = self.proc.wait(600)
        assert rc == 0, f"pack-env exited {rc}: {self.log.read_text(errors='replace')[-3000:]}"
        return self.root

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(60)
        for archive in self.root.glob("*.tar.gz"):
            archive.unlink()  # hundreds of MB


@pytest.fixture(scope="module")
def packing(tmp_path_factory) -> Iterator[Optional[Packing]]:
    """None when `corpusforge pack-env` or the README's archive route is missing (the test says which)."""
    line = readme_cluster_commands().get("pack_env")
    if not (REPO / "jobs" / "cmd_pack_env.py").exists() or line is None:
        yield None
        return
    p = Packing(tmp_path_factory.mktemp("archive"), line)
    try:
        yield p
    finally:
        p.stop()


@pytest.mark.slow
def test_archive_route_matches_local_mode(local_run, packing, cluster, corpus):
    cmds = readme_cluster_commands()
    assert packing and "submit_archive" in cmds, f"README 'On a cluster' lacks the archive route: {cmds}"
    root = packing.wait()  # env.tar.gz (the README's name) in the directory spark-submit runs in
    if "zip" in cmds and "--py-files" in shlex.split(cmds["submit_archive"]):
        _zip_code(cmds, root)
    out = root / "out"
    # the README's ./environment/bin/python stays; its driver python (a venv path) is the test's venv
    cmd = _resolve_submit(cmds["submit_archive"], cluster.url, PYTHON, [corpus], out)
    submit(cmd, root, root / "driver.log")
    packing.stop()
    assert_same_run(out, local_run.result(), cluster.url)

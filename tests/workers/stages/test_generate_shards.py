"""Sharded generation (spec.generation.shards): row ranges and seeds, the merge, the shard contract, the
local driver's shard processes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from safesynth import driver
from safesynth.contract import shard_summary_key, summary_key
from safesynth.driver import ShardFailedError, run_shards
from safesynth.errors import BadInputError, PrivacyBudgetError
from safesynth.progress import LogProgress
from safesynth.shard_launch import FORK, PROCESS, fork_shards, launch_mode
from safesynth.stages import generate, train
from safesynth.stages.generate import merged_summary, shard_range, shard_seed
from safesynth.stages.runner import ShardsNotFinishedError, execute_shard, execute_stage, pending_shards
from safesynth.store import LocalStore
from tests.workers.generator.helpers import tiny_spec, tiny_table, write_prepared

LENIENT = {"maxInvalidFraction": 1.0, "batchSize": 64}


@pytest.mark.parametrize(("total", "count"), [(0, 1), (1, 2), (10, 3), (1000, 7), (5, 5)])
def test_shard_ranges_are_disjoint_in_order_and_cover_every_row(total: int, count: int) -> None:
    ranges = [shard_range(total, i, count) for i in range(count)]
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1


def test_shard_range_refuses_an_index_outside_the_count() -> None:
    with pytest.raises(ValueError):
        shard_range(10, 2, 2)


def test_shard_seeds_one_shard_keeps_the_seed_more_are_distinct_and_repeatable() -> None:
    assert shard_seed(7, 0, 1) == 7
    seeds = [shard_seed(7, i, 4) for i in range(4)]
    assert len(set(seeds)) == 4 and seeds == [shard_seed(7, i, 4) for i in range(4)]
    assert seeds != [shard_seed(8, i, 4) for i in range(4)]


def test_merged_summary_sums_counts_and_recomputes_rates() -> None:
    def shard(i: int, rows: int, sampled: int, valid: int, secs: float) -> dict:  # type: ignore[type-arg]
        return {"shard": {"index": i, "count": 2, "rowRange": [0, rows], "seed": i}, "rowsGenerated": rows,
                "rowsSampled": sampled, "batches": 1, "rowsValid": valid, "invalid": {"parse": sampled - valid},
                "invalidByColumn": {"age": {"range": sampled - valid}}, "exactCopies": 1, "exactCopiesInOutput": 0,
                "rowsPerSecond": rows / secs, "timings": {"sample": secs}, "device": "cpu", "specHash": "x"}

    out = merged_summary([shard(0, 10, 20, 15, 2.0), shard(1, 10, 10, 10, 4.0)])
    assert out["rowsGenerated"] == 20 and out["rowsSampled"] == 30 and out["batches"] == 2
    assert out["validFraction"] == round(25 / 30, 4) and out["acceptedFraction"] == round(20 / 30, 4)
    assert out["invalid"] == {"parse": 5} and out["invalidByColumn"] == {"age": {"range": 5}}
    assert out["exactCopies"] == 2 and out["rowsPerSecond"] == 5.0  # 20 rows over the slowest shard's 4 s
    assert [s["index"] for s in out["shards"]] == [0, 1] and "specHash" not in out and out["device"] == "cpu"


def table() -> pd.DataFrame:
    return tiny_table(120).drop(columns=["note"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("shards")
    store = LocalStore(root / "run")
    write_prepared(store, table())
    execute_stage(train, tiny_spec(root, training={"epochs": 3}), store, LogProgress())
    return store, root


def spec_for(root: Path, **generation):  # type: ignore[no-untyped-def]
    return tiny_spec(root, training={"epochs": 3}, generation={**LENIENT, "numRecords": 30, **generation})


@pytest.mark.slow
def test_shards_merge_in_index_order_to_the_same_table_whatever_order_they_ran(trained) -> None:  # type: ignore[no-untyped-def]
    store, root = trained
    spec = spec_for(root, shards=3)
    outputs = []
    for order in ([0, 1, 2], [2, 0, 1]):
        for i in order:
            execute_shard(generate, spec, store, LogProgress(), i, 3, force=True)
        s = execute_stage(generate, spec, store, LogProgress(), force=True).summary
        outputs.append((store.read_bytes("generate/synthetic.csv"), store.read_table("generate/synthetic.parquet")))
    assert outputs[0][0] == outputs[1][0]
    out, real = outputs[0][1], table()
    assert len(out) == 30 == s["rowsGenerated"] and [x["rowRange"] for x in s["shards"]] == [[0, 10], [10, 20], [20, 30]]
    assert list(out.columns) == list(real.columns) and dict(out.dtypes) == dict(real.dtypes)
    assert out["pid"].is_unique and not set(out["pid"]) & set(real["pid"])  # identifiers made once, for all rows
    rows = [store.read_table(f"generate/shards/{i}/rows.parquet") for i in range(3)]
    assert pd.concat(rows, ignore_index=True)["age"].tolist() == out["age"].tolist()  # index order
    assert rows[0]["age"].tolist() != rows[1]["age"].tolist()  # each shard its own seed


@pytest.mark.slow
def test_shard_contract_merge_waits_a_running_shard_voids_the_merge_reruns_keep_shards(trained) -> None:  # type: ignore[no-untyped-def]
    store, root = trained
    spec = spec_for(root, shards=2, seed=11)
    store.delete_prefix("generate/")
    execute_shard(generate, spec, store, LogProgress(), 0, 2)
    with pytest.raises(ShardsNotFinishedError, match="shard\\(s\\) 1 of 2"):
        execute_stage(generate, spec, store, LogProgress())
    assert pending_shards(generate, spec, store) == [1]
    assert execute_shard(generate, spec, store, LogProgress(), 0, 2).skipped  # finished for this spec
    execute_shard(generate, spec, store, LogProgress(), 1, 2)
    merged = execute_stage(generate, spec, store, LogProgress())
    assert not merged.skipped and store.exists(shard_summary_key("generate", 0))  # the merge kept the shards
    assert execute_stage(generate, spec, store, LogProgress()).skipped
    execute_shard(generate, spec, store, LogProgress(), 1, 2, force=True)
    assert not store.exists(summary_key("generate"))  # a shard that ran voids the merged result
    assert not execute_stage(generate, spec, store, LogProgress()).skipped
    with pytest.raises(Exception, match="shards is 2"):
        execute_shard(generate, spec, store, LogProgress(), 0, 3)


@pytest.mark.slow
def test_driver_runs_unfinished_shards_as_processes(trained, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, root = trained
    spec = spec_for(root, shards=2, seed=12)
    store.delete_prefix("generate/")
    monkeypatch.setattr(driver, "shard_launch_mode", lambda module, spec: PROCESS)  # as off Linux or on a GPU
    run_shards(generate, spec, store, LogProgress())
    assert store.read_json(shard_summary_key("generate", 0))["preloaded"] is False  # each loaded its own model
    assert pending_shards(generate, spec, store) == []
    first = store.read_json(shard_summary_key("generate", 1))
    assert first["shard"] == {"index": 1, "count": 2, "rowRange": [15, 30], "seed": shard_seed(12, 1, 2)}
    execute_stage(generate, spec, store, LogProgress())
    run_shards(generate, spec, store, LogProgress())  # the stage is current: nothing runs
    assert store.read_json(shard_summary_key("generate", 1))["finishedAt"] == first["finishedAt"]


@pytest.mark.parametrize(("text", "parsed"), [("0/2", (0, 2)), ("3/4", (3, 4)), ("2/2", None), ("1", None),
                                               ("a/2", None), ("-1/2", None), ("$(JOB_COMPLETION_INDEX)/2", None)])
def test_shard_option_is_index_over_count(text: str, parsed: tuple[int, int] | None) -> None:
    from safesynth.cli import parse_shard
    from safesynth.errors import BadInputError

    if parsed is None:
        with pytest.raises(BadInputError, match="--shard"):
            parse_shard(text)
    else:
        assert parse_shard(text) == parsed


@pytest.mark.parametrize(("platform", "methods", "forkable", "mode"), [
    ("linux", ["fork", "spawn", "forkserver"], True, FORK),
    ("linux", ["fork", "spawn", "forkserver"], False, PROCESS),  # CUDA, or more than one thread per shard
    ("darwin", ["spawn", "fork", "forkserver"], True, PROCESS),  # offered, not fork-safe
    ("win32", ["spawn"], True, PROCESS),
    ("linux", ["spawn"], True, PROCESS),
])
def test_launch_mode_forks_only_on_linux_when_the_stage_allows(platform: str, methods: list[str], forkable: bool,
                                                                mode: str) -> None:
    assert launch_mode(platform, methods, forkable) == mode


def test_generate_shards_are_forkable_on_one_cpu_thread_only(tmp_path: Path) -> None:
    assert generate.shard_forkable(tiny_spec(tmp_path, training={"device": "cpu", "threads": 1}))
    assert not generate.shard_forkable(tiny_spec(tmp_path, training={"device": "cpu", "threads": 2}))


def _shard_outcome(index: int) -> None:
    if index == 1:
        raise BadInputError("bad input")
    if index == 2:
        raise PrivacyBudgetError("no budget")
    if index == 3:
        raise RuntimeError("a message that may hold data values")


def test_forked_shards_exit_with_the_codes_the_cli_gives(capfd: pytest.CaptureFixture[str]) -> None:
    assert fork_shards(_shard_outcome, [0, 1, 2, 3]) == [(0, 0), (1, 2), (2, 3), (3, 1)]
    err = capfd.readouterr().err
    assert "error: bad input" in err and "error: no budget" in err and "unexpected RuntimeError" in err
    assert "a message that may hold data values" not in err  # the CLI's rule: an unexpected error's type only


@pytest.mark.slow
@pytest.mark.skipif(not driver.sys.platform.startswith("linux"), reason="the fork path runs on Linux only")
def test_driver_forks_shards_from_one_loaded_model_and_keeps_every_row(trained, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, root = trained
    spec = spec_for(root, shards=2, seed=12)
    store.delete_prefix("generate/")
    monkeypatch.setattr(driver, "shard_launch_mode", lambda module, spec: PROCESS)
    run_shards(generate, spec, store, LogProgress(), force=True)
    by_process = [store.read_table(f"generate/shards/{i}/rows.parquet") for i in range(2)]
    monkeypatch.undo()

    def no_process(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the fork path fell back to `safesynth stage --shard` processes")

    monkeypatch.setattr(driver.subprocess, "Popen", no_process)
    assert driver.shard_launch_mode(generate, spec) == FORK
    run_shards(generate, spec, store, LogProgress(), force=True)
    summaries = [store.read_json(shard_summary_key("generate", i)) for i in range(2)]
    assert [s["preloaded"] for s in summaries] == [True, True]  # the parent's model, not one load per shard
    assert [s["rowsGenerated"] for s in summaries] == [15, 15] and pending_shards(generate, spec, store) == []
    rows = [store.read_table(f"generate/shards/{i}/rows.parquet") for i in range(2)]
    for forked, alone in zip(rows, by_process):  # each shard's rows are its own seed's, whichever way it ran
        pd.testing.assert_frame_equal(forked, alone)
    merged = execute_stage(generate, spec, store, LogProgress()).summary
    out = store.read_table("generate/synthetic.parquet")
    assert len(out) == 30 == merged["rowsGenerated"] and [s["preloaded"] for s in merged["shards"]] == [True, True]
    assert out["age"].tolist() == pd.concat(rows, ignore_index=True)["age"].tolist()


@pytest.mark.slow
def test_a_failing_forked_shard_raises_with_its_permanent_exit_code(trained) -> None:  # type: ignore[no-untyped-def]
    store, root = trained
    spec = spec_for(root, shards=2, fixedValues={"no_such_column": "1"})  # every shard fails with bad input
    with pytest.raises(ShardFailedError) as err:
        run_shards(generate, spec, store, LogProgress(), force=True)
    assert err.value.exit_code == 2 and "shard 0 of 2 exited with code 2" in str(err.value)
    assert not store.exists(shard_summary_key("generate", 0))


_ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from safesynth.shard_launch import fork_shards

def sleeper(index: int) -> None:
    import os
    Path(sys.argv[1]).write_text(str(os.getpid()))
    time.sleep(120)

fork_shards(sleeper, [0])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_forked_shard_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed `safesynth run` (OOM, kill -9) runs no handler; its forked shards must not go on writing."""
    pid_file = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(driver.__file__).parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(pid_file)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the forked shard outlived its killed parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, reaped by init soon, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize(("shards", "threads", "cores", "expected"),
                         [(2, 1, 2, False), (2, 2, 2, True), (4, 2, 8, False), (3, 1, 2, True), (2, 2, None, False)])
def test_local_shards_oversubscribe_when_shards_times_threads_exceed_the_cores(shards: int, threads: int,
                                                                                 cores: int | None,
                                                                                 expected: bool) -> None:
    from safesynth.shard_launch import oversubscribed

    assert oversubscribed(shards, threads, cores) is expected

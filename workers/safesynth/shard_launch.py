"""How the local driver starts a sharded stage's shards: forked from its own process, or as new processes.

`safesynth stage NAME --shard I/N` in a new interpreter (the `process` way, what
an Indexed Job's pod runs) pays for the interpreter, the imports and the model
load in every shard before it samples: about 3 s each on a 2-core machine.
Forked from the driver (the `fork` way), the shards start with everything
imported and, where the stage offers it (`shard_preload`), the model loaded
once by the parent; each still runs under the same contract (execute_shard:
its own artifacts and summary under `<stage>/shards/<i>/`), so resume and the
cluster path are unchanged. Fork is chosen only where it is safe (`launch_mode`,
a pure function); an error in a forked shard becomes its exit code the way the
CLI maps it, so a bad-input shard (2) is still not retried.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional, Sequence

from safesynth.contract import DEBUG_ENV, EXIT_RETRYABLE
from safesynth.errors import SafeSynthError

FORK, PROCESS = "fork", "process"
INTERRUPTED = 130  # a shard stopped by Ctrl-C, as the CLI exits then


def launch_mode(platform: str, start_methods: Sequence[str], forkable: bool) -> str:
    """FORK on Linux when the stage says a forked shard can sample (`forkable`: on the CPU, one thread per
    shard), else PROCESS. macOS offers fork but its system libraries are not fork-safe; Windows has none."""
    return FORK if forkable and platform.startswith("linux") and "fork" in start_methods else PROCESS


def oversubscribed(shards: int, threads: int, cores: Optional[int]) -> bool:
    """True when local shards would ask for more CPU threads than the machine has cores: `threads` torch
    threads in each of `shards` processes. They then contend (two 2-thread shards on a 2-core box sampled at a
    third of one shard's rate) and the driver says so; one thread per shard also lets them fork."""
    return cores is not None and shards * threads > cores


def fork_shards(run_one: Callable[[int], None], indexes: Sequence[int]) -> list[tuple[int, int]]:
    """`run_one(i)` for every index, each in a child forked from this process, all at once; (index, exit code)
    per child in the order given. Children still running when the wait is interrupted are terminated."""
    ctx = multiprocessing.get_context("fork")
    for stream in (sys.stdout, sys.stderr):  # no buffered text printed twice by the children
        stream.flush()
    parent = os.getpid()
    procs = [(i, ctx.Process(target=_child, args=(run_one, i, parent), name=f"shard-{i}", daemon=False))
             for i in indexes]
    try:
        for _, p in procs:
            p.start()
        for _, p in procs:
            p.join()
    except BaseException:
        for _, p in procs:
            if p.pid is not None and p.exitcode is None:
                p.terminate()
        for _, p in procs:
            if p.pid is not None:
                p.join()
        raise
    return [(i, p.exitcode if p.exitcode is not None else EXIT_RETRYABLE) for i, p in procs]


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG), and exit now if the
    parent is already gone. A parent killed with SIGKILL (an OOM kill, `kill -9` of `safesynth run`) runs no
    handler, so without this its forked shards would go on sampling and writing into the run's artifacts
    after the run was stopped. Nothing happens off Linux (no prctl; fork is used on Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    # CDLL(None): the symbols already loaded in this process, libc among them (find_library would run ldconfig)
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # died between fork and prctl: the signal was never armed
        os._exit(EXIT_RETRYABLE)


def _child(run_one: Callable[[int], None], index: int, parent: int) -> None:
    """One forked shard: its exit code as `safesynth stage` would give it, its error printed as the CLI does
    (an unexpected exception by its type and place only: its message may hold data values). It dies with the
    process that forked it (`die_with_parent`)."""
    die_with_parent(parent)
    code = 0
    try:
        run_one(index)
    except SafeSynthError as exc:
        sys.stderr.write(f"error: {exc}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        code = INTERRUPTED
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_RETRYABLE
    except BaseException as exc:  # broad on purpose: every failure must reach the parent as an exit code
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        else:
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            sys.stderr.write(f"error: unexpected {type(exc).__name__}{where} (message hidden: it may contain data "
                             f"values; set {DEBUG_ENV}=1 to see it)\n")
        code = EXIT_RETRYABLE
    sys.stderr.flush()
    sys.exit(code)

"""The document's detection flow ("检测触发" on data entry, "检测调度" every 6 hours), as a process.

    wearable-monitor rules --watch DIR --db findings.sqlite [--interval-hours 6] [--poll-seconds 30]
    wearable-monitor rules --db findings.sqlite --scheduled          # one run_scheduled (for cron)

`watch` looks at DIR every `poll_seconds`: each *.jsonl file that is new or changed since it
last looked is validated and loaded, and the rules run for the users in it at once (data
entry); every `interval_hours` the whole store is re-run (`RuleEngine.run_scheduled`).
Storage is idempotent (episode keys), so re-reading a file or a re-run never notifies twice.
With cron instead of a long-running process (docs/rules.md):

    0 */6 * * *  python -m wearable_monitor rules --db /data/findings.sqlite --scheduled
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .engine import RuleEngine
from .finding import Finding
from .logs import InputError, read_daily_logs

log = logging.getLogger(__name__)


def scan(engine: RuleEngine, directory: str | Path, seen: dict[Path, tuple[int, int]]) -> list[Finding]:
    """Load every new or changed *.jsonl file of `directory` and run the rules for its users (stored;
    the engine's notifier hears new and escalated findings). A bad file is reported and skipped."""
    found: list[Finding] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        if seen.get(path) == key:
            continue
        seen[path] = key
        try:
            logs = read_daily_logs(path)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            continue
        if not logs:
            continue
        engine.load(logs)
        found += engine.run(users=sorted({l.user_id for l in logs}))
    return found


def watch(engine: RuleEngine, directory: str | Path, interval_hours: float = 6.0, poll_seconds: float = 30.0,
          max_cycles: int | None = None, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Run until interrupted (or `max_cycles` polls): data entry by file, plus the periodic job."""
    directory = Path(directory)
    if not directory.is_dir():
        print(f"error: {directory}: not a directory", file=sys.stderr)
        return 2
    seen: dict[Path, tuple[int, int]] = {}
    next_run = clock()
    cycles = 0
    try:
        while True:
            scan(engine, directory, seen)
            if clock() >= next_run:
                engine.run_scheduled()
                log.info("scheduled rule run done")
                next_run = clock() + interval_hours * 3600.0
            cycles += 1
            if max_cycles is not None and cycles >= max_cycles:
                return 0
            sleep(poll_seconds)
    except KeyboardInterrupt:
        return 0

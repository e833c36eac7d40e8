"""`conflux replay`: rebuild projections from the log, with progress, and check them.

The coordinator's state and the read model are rebuilt in this process and compared with
what the running system serves (they must agree while no new events arrive: rule 4); the
archive is rebuilt into a fresh chdb folder (`--into`), since the running projector owns
the live one.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from conflux.cli._options import JSON, STATE_DIR
from conflux.events import ConfluxError

if TYPE_CHECKING:
    from conflux.cli._system import SystemInfo
    from conflux.projections.projector import ProjectionName, ReplayResult, Start


class ProgressBar:
    """A one-line bar on a terminal (redrawn), else a line every few seconds."""

    def __init__(self, label: str, *, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self._shown = 0.0
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        if self.quiet or self._finished:
            return
        now = time.monotonic()
        final = self._finished = done >= total
        if not self.tty and not final and now - self._shown < 2.0:
            return
        self._shown = now
        rate = done / max(now - self.started, 1e-9)
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        line = (
            f"{self.label:<12} [{bar:<30}] {share:4.0%}  {done:,}/{total:,} events  {rate:,.0f}/s"
        )
        end = "\n" if final or not self.tty else ""
        sys.stderr.write(("\r" if self.tty else "") + line + end)
        sys.stderr.flush()


def parse_start(from_offset: int | None, from_time: str | None) -> Start:
    """None (offset zero), an offset, or an aware time; both given is a usage error."""
    if from_offset is not None and from_time is not None:
        raise click.UsageError("pass --from-offset or --from-time, not both")
    if from_time is None:
        return from_offset
    try:
        parsed = datetime.fromisoformat(from_time)
    except ValueError:
        raise click.BadParameter(
            f"{from_time!r} is not an ISO time (e.g. 2024-01-31T12:00)", param_hint="--from-time"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


@click.command()
@click.argument(
    "projections",
    nargs=-1,
    type=click.Choice(["coordinator", "read-model", "archive", "all"]),
)
@click.option("--from-offset", type=click.IntRange(min=0), help="Start at this offset.")
@click.option("--from-time", help="Start at the first record at or after this ISO time.")
@click.option(
    "--into",
    type=click.Path(file_okay=False),
    help="A new chdb folder to rebuild the archive into (needed for `archive`).",
)
@JSON
@STATE_DIR
def replay(
    projections: tuple[str, ...],
    from_offset: int | None,
    from_time: str | None,
    into: str | None,
    as_json: bool,
    state_dir: str,
) -> int:
    """Rebuild projections from the log (default: coordinator and read-model) and check them.

    A replay from the start is compared with the running system: exit 1 if they differ.
    """
    from conflux.cli._output import print_json
    from conflux.cli._system import find_system

    start = parse_start(from_offset, from_time)
    info = find_system(state_dir)
    names: list[ProjectionName] = []
    for name in projections or ("coordinator", "read-model"):
        for one in ("coordinator", "read-model", "archive") if name == "all" else (name,):
            if one not in names:
                names.append(one)
    if "archive" in names and into is None:
        raise ConfluxError(
            "replaying the archive needs --into DIR (a new chdb folder): the running "
            "projector owns the live archive"
        )
    reports = [_replay_one(info, name, start, into, quiet=as_json) for name in names]
    if as_json:
        print_json(reports)
    else:
        for r in reports:
            click.echo(
                f"{r['projection']}: {r['events']:,} events in {r['seconds']:.2f} s"
                f" ({r['rate']:,.0f}/s); {r['verdict']}"
            )
    return 0 if all(r["matches_live"] is not False for r in reports) else 1


def _replay_one(
    info: SystemInfo, name: ProjectionName, start: Start, into: str | None, *, quiet: bool
) -> dict[str, Any]:
    from conflux.coordinator import coordinator_fold
    from conflux.projections.projector import archive_fold, read_model_fold, replay

    bar = ProgressBar(name, quiet=quiet)
    kind, topics = info.broker_kind, info.topics
    report: dict[str, Any]
    if name == "archive":
        from conflux.projections.archive import ArchiveSink, ChdbStore

        assert into is not None
        with ChdbStore(Path(into)) as store:
            store.create_schema()
            sink = ArchiveSink(store)
            try:
                result = replay(info.bootstrap, topics, name, archive_fold(sink),
                                start=start, broker_kind=kind, progress=bar)  # fmt: skip
            finally:
                sink.close()
            stored = store.count("events")
        report = _report(result, None, f"archive rebuilt in {into}: {stored:,} records", start)
    elif name == "coordinator":
        state, fold = coordinator_fold()
        result = replay(info.bootstrap, topics, name, fold, start=start, broker_kind=kind,
                        progress=bar)  # fmt: skip
        diffs = None if start is not None else _coordinator_differences(info, state)
        report = _report(result, diffs, f"{len(state.runs):,} runs", start)
    else:
        model, fold = read_model_fold()
        result = replay(info.bootstrap, topics, name, fold, start=start, broker_kind=kind,
                        progress=bar)  # fmt: skip
        diffs = None if start is not None else _read_model_differences(info, model)
        report = _report(result, diffs, f"{len(model.asset_summaries()):,} assets", start)
    return report


def _report(
    result: ReplayResult, diffs: list[str] | None, what: str, start: Start
) -> dict[str, Any]:
    if diffs is None:
        verdict = f"{what} (not compared: a partial replay)" if start is not None else what
    elif diffs:
        verdict = f"{what}; DIFFERS from the live system: {'; '.join(diffs[:5])}"
    else:
        verdict = f"{what}; same as the live system"
    return {
        "projection": result.projection,
        "events": result.events,
        "seconds": round(result.seconds, 3),
        "rate": round(result.rate),
        "matches_live": None if diffs is None else not diffs,
        "differences": diffs or [],
        "verdict": verdict,
    }


def _read_model_differences(info: SystemInfo, model: Any) -> list[str]:
    from conflux.projections.api import ApiClient

    client = ApiClient(info.api_url, timeout=10.0)
    diffs = []
    live_assets = {a.key: a for a in client.assets()}
    for summary in model.asset_summaries():
        live = live_assets.pop(summary.key, None)
        if live is None or live.partitions != summary.partitions:
            diffs.append(f"asset {summary.key}")
    diffs += [f"asset {key} (only live)" for key in live_assets]
    live_runs = {(r.run_id, r.status) for r in client.runs(limit=1_000_000)}
    replayed_runs = {(r.run_id, r.status) for r in model.run_summaries(limit=1_000_000)}
    diffs += [f"run {run_id} ({status})" for run_id, status in live_runs ^ replayed_runs]
    return diffs


def _coordinator_differences(info: SystemInfo, state: Any) -> list[str]:
    """Cross-check with the read model: two different folds of one log must agree."""
    from conflux.projections.api import ApiClient

    client = ApiClient(info.api_url, timeout=10.0)
    diffs = []
    for live in client.assets():
        partitions = state.assets.partitions.get(live.key, {})
        done = sum(1 for p in partitions.values() if p.status == "materialized")
        if done != live.partitions.materialized:
            diffs.append(
                f"asset {live.key}: {done} materialized, live {live.partitions.materialized}"
            )
    finished = {
        r.run_id: r.status
        for r in client.runs(limit=1_000_000)
        if r.status in ("success", "failed")
    }
    for run_id, status in finished.items():
        run = state.runs.get(run_id)
        if run is None or run.completed is None or run.completed.status != status:
            diffs.append(f"run {run_id}: live {status}")
    return diffs

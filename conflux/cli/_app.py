"""The root of `conflux`: a lazy group, and one line on stderr for every error.

Each command (or group) lives in its own module, which holds its click declaration and
its body. The root names them in `COMMANDS` and imports a module only when its command
runs or when help lists it (click's documented `LazyGroup` pattern), so `conflux status`
never imports what `conflux dev` needs. A command module imports only click and
`_options` at module level: `conflux --help` imports them all.

Errors leave as one line on stderr and a non-zero exit: 2 for a bad argument, 1 for
anything else Conflux reports (an unknown asset, no broker, a failed run).
"""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

import click

from conflux.events import ConfluxError

COMMANDS = {
    "assets": "conflux.cli._assets:assets",
    "backfill": "conflux.cli._backfill:backfill",
    "coordinator": "conflux.cli._coordinator:coordinator",
    "dev": "conflux.cli._dev:dev",
    "events": "conflux.cli._events:events",
    "lineage": "conflux.cli._lineage:lineage",
    "locations": "conflux.cli._locations:locations",
    "logs": "conflux.cli._logs:logs",
    "materialize": "conflux.cli._materialize:materialize",
    "partitions": "conflux.cli._partitions:partitions",
    "projector": "conflux.cli._projector:projector",
    "replay": "conflux.cli._replay:replay",
    "report": "conflux.cli._report:report",
    "runs": "conflux.cli._runs:runs",
    "schedules": "conflux.cli._instigators:schedules",
    "sensors": "conflux.cli._instigators:sensors",
    "sql": "conflux.cli._sql:sql",
    "status": "conflux.cli._status:status",
    "ui": "conflux.cli._ui:ui",
    "why": "conflux.cli._why:why",
    "worker": "conflux.cli._worker:worker",
}
"""Command name -> `module:attribute` of its click command or group."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `conflux: error: message` on stderr and exit with `code`."""
    click.echo(f"conflux: error: {message}", err=True)
    sys.exit(code)


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from `module:attribute` paths."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        path = self.lazy.get(cmd_name)
        if path is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = path.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{path} is not a click command")
        return command


class _Root(LazyGroup):
    """Turns every error into one line on stderr."""

    def main(self, *args: object, **kwargs: object) -> NoReturn:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.UsageError as exc:
            fail(exc.format_message().replace("\n", " ") + _hint(exc.ctx), 2)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            sys.exit(130)
        except KeyboardInterrupt:
            sys.exit(130)
        except ConfluxError as exc:
            fail(str(exc).replace("\n", " "))
        sys.exit(rv if isinstance(rv, int) else 0)


def _hint(ctx: click.Context | None) -> str:
    """` (see `conflux X --help`)`: a hidden command's errors point at the help that lists it."""
    while ctx is not None and ctx.command.hidden and ctx.parent is not None:
        ctx = ctx.parent
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""


@click.group(cls=_Root, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conflux")
def cli() -> None:
    """Conflux: software-defined assets on an event log."""


def run() -> None:
    """Run the command line."""
    cli.main(prog_name="conflux")

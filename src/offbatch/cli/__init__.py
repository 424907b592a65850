"""The ``offbatch`` command line.

Commands live in small modules and are imported only when run, so ``offbatch --help`` stays
fast. Our errors print one line (``error: ...`` plus a hint) and exit with their class's code;
anything else is a bug and keeps its traceback. Exit codes are decided in ``offbatch.errors``
only (docs/cli.md has the table).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import NoReturn

import click

from offbatch import __version__
from offbatch.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, OffbatchError

# command name -> (module, function, one-line help); help is here so --help imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "launch": ("offbatch.cli.jobs", "launch", "Extract products, validate the config and submit a job."),
    "status": ("offbatch.cli.jobs", "status", "Show a job's state, tasks, cost and import."),
    "list": ("offbatch.cli.jobs", "list_jobs", "List recent jobs."),
    "logs": ("offbatch.cli.jobs", "logs", "Print a job's task logs."),
    "cancel": ("offbatch.cli.jobs", "cancel", "Cancel a job (idempotent)."),
    "resume": ("offbatch.cli.jobs", "resume", "Rerun the unfinished shards of a job."),
    "run-task": ("offbatch.cli.jobs", "run_task", "Run one task of a job (the worker entry point)."),
    "smoke": ("offbatch.cli.jobs", "smoke", "Run a one-task smoke job that checks GPU, model and image step by step."),
    "import": ("offbatch.cli.service", "import_job", "Import a finished job's results now."),
    "serve": ("offbatch.cli.service", "serve", "Run the API server (import endpoint, insights)."),
    "worker": ("offbatch.cli.service", "worker", "Run the import worker loop (queue + reconcile)."),
    "reconcile": ("offbatch.cli.service", "reconcile", "Import succeeded jobs whose webhook never came."),
    "insights": ("offbatch.cli.review", "insights", "List insights; accept, reject or edit one."),
    "db": ("offbatch.cli.service", "db", "Database commands (upgrade)."),
    "completion": ("offbatch.cli.completion", "completion", "Print the shell completion script (bash, zsh, fish)."),
    "eval": ("offbatch.cli.evaluate", "evaluate", "Score a spellcheck engine on the dev or frozen test split."),
}
# The variable click's shell completion protocol reads (see `offbatch completion`).
COMPLETE_VAR = "_OFFBATCH_COMPLETE"


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr, short_help = COMMANDS[cmd_name]
        if sys.argv[1:2] in (["--help"], ["-h"]) and COMPLETE_VAR not in os.environ:
            # `offbatch --help` lists commands without importing them.
            return click.Command(cmd_name, short_help=short_help, help=short_help)
        command = getattr(importlib.import_module(module_name), attr)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`offbatch list | head -1`): stop quietly, with SIGPIPE's code
            # (click's own handling would exit 1, which means a failed job here).
            _silence_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list:
        # Command names complete from the table, without importing every command module.
        from click.shell_completion import CompletionItem

        names = [CompletionItem(name, help=COMMANDS[name][2]) for name in COMMANDS if name.startswith(incomplete)]
        return names + click.Command.shell_complete(self, ctx, incomplete)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="offbatch")
def cli() -> None:
    """offbatch: run ML predictions over Open Food Facts products as batch jobs."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush into a closed pipe is quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode click returns the code of a `ctx.exit(code)` instead of exiting.
        code = cli.main(args=argv, prog_name="offbatch", standalone_mode=False, complete_var=COMPLETE_VAR)
    except OffbatchError as e:
        click.echo(f"error: {e.message}", err=True)
        if e.hint:
            click.echo(f"hint: {e.hint}", err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as e:
        e.show()
        return EXIT_USAGE
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return code if isinstance(code, int) else 0


def run() -> NoReturn:
    """The ``offbatch`` program (console script, ``python -m offbatch``): ``main()``, then exit
    without the interpreter's teardown.

    Tearing down the ~600 modules a command has imported (SQLAlchemy, pydantic, pyarrow, DuckDB)
    costs 0.1-0.25 s of CPU once the command is done: on a small ``launch --wait`` that was a
    sixth of its wall time (docs/performance.md). What a normal exit does that matters is done
    first: the database's pooled connections are closed (SQLite checkpoints its WAL), atexit
    handlers run (logging's flush, weakref finalizers), stdout and stderr are flushed. Only the
    teardown itself (freeing objects one by one) is skipped. With another thread still alive,
    or an exit that is not a code, the normal exit runs instead (it waits for non-daemon threads).
    ``main()`` itself returns as before, so tests and embedders keep their interpreter.
    """
    try:
        code: object = main()
    except SystemExit as e:
        code = e.code
    if not (code is None or isinstance(code, int)) or threading.active_count() > 1:
        sys.exit(code)
    _close_database()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    with contextlib.suppress(OSError):  # nowhere left to report it
        sys.stderr.flush()
    os._exit(code or 0)


def _close_database() -> None:
    """Close the command's database connections, as the teardown would have."""
    context = sys.modules.get("offbatch.cli.context")
    if context is not None and context.database.cache_info().currsize:
        context.database().dispose()


if __name__ == "__main__":
    run()

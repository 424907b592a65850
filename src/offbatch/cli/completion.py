"""Shell completion: the ``completion`` command and the completers of job types and job ids.

Completion uses click's protocol: the shell calls ``offbatch`` with ``_OFFBATCH_COMPLETE`` set
(e.g. ``bash_complete``) and ``COMP_WORDS``/``COMP_CWORD``; ``offbatch completion SHELL`` prints
the script that does so. Completers never print an error into the user's prompt: whatever fails
there completes nothing.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(offbatch completion bash)"     # in ~/.bashrc',
    "zsh": 'eval "$(offbatch completion zsh)"      # in ~/.zshrc',
    "fish": "offbatch completion fish > ~/.config/fish/completions/offbatch.fish",
}


def complete_job_types(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from offbatch.jobs import job_type_names

    return [name for name in job_type_names() if name.startswith(incomplete)]


def complete_job_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Ids of the most recent jobs in this user's database that start with ``incomplete``."""
    from offbatch import tracking
    from offbatch.cli import context

    try:
        jobs = tracking.list_jobs(context.database(), limit=500)
    except Exception:  # noqa: BLE001 - a completer must stay silent: no database yet, a bad URL...
        return []
    return [job.id for job in jobs if job.id.startswith(incomplete)]


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print SHELL's completion script for offbatch (commands, options, job types, job ids).

    \b
    bash:  eval "$(offbatch completion bash)"     # in ~/.bashrc
    zsh:   eval "$(offbatch completion zsh)"      # in ~/.zshrc
    fish:  offbatch completion fish > ~/.config/fish/completions/offbatch.fish
    """
    from click.shell_completion import get_completion_class

    from offbatch.cli import COMPLETE_VAR, cli

    completer = get_completion_class(shell)(cli, {}, "offbatch", COMPLETE_VAR)
    click.echo(completer.source())

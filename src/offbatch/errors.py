"""The one error hierarchy: every error a user can act on is an OffbatchError.

The CLI prints ``error: <message>`` (plus the hint) and exits with ``exit_code``; the API maps
``http_status``. Anything that is not an OffbatchError is a bug and keeps its traceback.

This module is the one place exit codes are decided: each class's ``exit_code``, plus the
constants below for the CLI's outcomes that are not an error class. ``exit_codes()`` lists them
all; docs/cli.md documents the same table and a test keeps the two equal.
"""

from __future__ import annotations


class OffbatchError(Exception):
    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(OffbatchError):
    """A job config, a setting or a command-line option is invalid."""

    exit_code = 2
    http_status = 422


class DatasetError(OffbatchError):
    """The dataset is missing, unreadable, lacks columns, or selects nothing."""

    exit_code = 3
    http_status = 422


class BackendError(OffbatchError):
    """The execution backend refused or failed a request."""

    exit_code = 4
    http_status = 502


class StorageError(OffbatchError):
    """Object storage could not be read or written."""

    exit_code = 5
    http_status = 502


class ImportFailed(OffbatchError):
    """A job's results could not be imported (missing/corrupt output, job not finished...)."""

    exit_code = 6
    http_status = 422


class AuthError(OffbatchError):
    """Missing or malformed credentials (401)."""

    exit_code = 7
    http_status = 401


class ForbiddenError(AuthError):
    """Valid-looking credentials that do not grant this request (403)."""

    exit_code = 12
    http_status = 403


class NotFoundError(OffbatchError):
    exit_code = 8
    http_status = 404


class ConflictError(OffbatchError):
    """The request conflicts with the current state (e.g. job not finished, insight annotated)."""

    exit_code = 9
    http_status = 409


class RequestTooLarge(OffbatchError):
    """An API request body over the server's limit (413)."""

    exit_code = 11
    http_status = 413


class EngineError(OffbatchError):
    """The model engine could not be loaded or run."""

    exit_code = 10
    http_status = 500


class SetupError(OffbatchError):
    """This machine's environment is not usable: OFFBATCH_HOME is not a writable directory, the
    server's port is taken, a needed package is missing."""

    exit_code = 13
    http_status = 500


class DatabaseError(OffbatchError):
    """The database cannot be used: unreachable, missing, not migrated, or its driver is not
    installed."""

    exit_code = 14
    http_status = 503


# The CLI's outcomes that are not an error class.
EXIT_OK = 0
# ``launch --wait`` / ``resume --wait`` followed a job that ended FAILED or CANCELLED; also the code
# of an unexpected error (a bug), which prints a traceback.
EXIT_JOB_UNSUCCESSFUL = 1
# Bad command-line usage: unknown command or option, a missing argument, a value out of range.
EXIT_USAGE = 64  # EX_USAGE in sysexits.h; 2 is ConfigError's
# Interrupted with Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
# The reader of stdout went away (`offbatch list | head -1`): stopped quietly, as on SIGPIPE.
EXIT_BROKEN_PIPE = 141


def error_classes() -> list[type[OffbatchError]]:
    """OffbatchError and every subclass defined in this module, depth first.

    Only this module's: which other modules happen to be imported must not change the table.
    A subclass defined elsewhere (an internal signal such as the importer's ClaimLost) keeps its
    parent's code.
    """
    found: list[type[OffbatchError]] = []
    pending: list[type[OffbatchError]] = [OffbatchError]
    while pending:
        cls = pending.pop(0)
        if cls.__module__ == __name__:
            found.append(cls)
        pending[:0] = cls.__subclasses__()
    return found


def exit_codes() -> dict[str, int]:
    """Every exit code of the CLI by name: the outcomes above and each error class."""
    codes = {"ok": EXIT_OK, "job unsuccessful": EXIT_JOB_UNSUCCESSFUL, "usage": EXIT_USAGE,
             "interrupted": EXIT_INTERRUPTED, "broken pipe": EXIT_BROKEN_PIPE}
    codes.update({cls.__name__: cls.exit_code for cls in error_classes()})
    return codes

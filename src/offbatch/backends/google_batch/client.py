"""The adapter over google-cloud-batch: the only place its client is built and its errors seen.

``google.cloud.batch_v1`` is imported on first use, so importing offbatch stays fast and the core
runs without the ``gcp`` extra. Every call translates Google's exceptions: ``NotFound`` becomes
NotFoundError, anything else from the API (permission, quota, invalid argument, unavailable)
becomes BackendError with Google's message. Credentials are never part of a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from offbatch.errors import BackendError, ConfigError, NotFoundError

if TYPE_CHECKING:
    from google.cloud import batch_v1

    from offbatch.settings import Settings

T = TypeVar("T")

# Seconds a single call may take, retries included (the client's own default is 60 s).
CALL_TIMEOUT_S = 30.0


def import_batch() -> Any:
    """``google.cloud.batch_v1``, or a ConfigError (a set-up problem) saying which extra to install."""
    try:
        from google.cloud import batch_v1
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"the 'google-batch' backend needs the missing package {e.name!r}",
            hint="install it with: pip install 'offbatch[gcp]'",
        ) from e
    return batch_v1


def translate(what: str, error: Exception) -> Exception:
    """Our error for a Google API error (raise it ``from`` the original)."""
    from google.api_core import exceptions as gexc

    message = getattr(error, "message", None) or str(error)
    if isinstance(error, gexc.NotFound):
        return NotFoundError(f"{what}: not found on Google Batch ({message})")
    if isinstance(error, gexc.PermissionDenied):
        return BackendError(
            f"{what}: permission denied ({message})",
            hint="the account needs roles/batch.jobsEditor and roles/iam.serviceAccountUser (docs/operations.md)",
        )
    if isinstance(error, gexc.Unauthenticated):
        return ConfigError(
            f"{what}: Google refused the credentials ({message})",
            hint="check GOOGLE_CREDENTIALS or run: gcloud auth application-default login",
        )
    return BackendError(f"{what}: Google Batch error: {message}")


def _call(what: str, fn: Callable[[], T]) -> T:
    from google.api_core import exceptions as gexc

    try:
        return fn()
    except gexc.GoogleAPIError as e:
        raise translate(what, e) from e


class BatchClient:
    """Calls of the Batch API that offbatch uses, with errors translated.

    Build it with ``from_settings`` (credentials or the emulator host) or ``for_channel`` (tests).
    """

    def __init__(self, service: batch_v1.BatchServiceClient) -> None:
        self._service = service

    @classmethod
    def for_channel(cls, channel: Any) -> BatchClient:
        """A client over an existing gRPC channel (an insecure channel to a fake service)."""
        batch_v1 = import_batch()
        from google.cloud.batch_v1.services.batch_service.transports import (
            BatchServiceGrpcTransport,
        )

        return cls(batch_v1.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel)))

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchClient:
        if settings.google_batch_emulator_host:
            import grpc

            return cls.for_channel(grpc.insecure_channel(settings.google_batch_emulator_host))
        batch_v1 = import_batch()
        from offbatch.backends.google_batch.credentials import load_credentials

        return cls(batch_v1.BatchServiceClient(credentials=load_credentials(settings)))

    def create_job(self, *, request: batch_v1.CreateJobRequest) -> batch_v1.Job:
        from google.api_core import exceptions as gexc

        try:
            return self._service.create_job(request=request, timeout=CALL_TIMEOUT_S)
        except gexc.AlreadyExists as e:
            raise BackendError(f"job {request.job_id!r} already exists on Google Batch") from e
        except gexc.InvalidArgument as e:
            raise ConfigError(f"Google Batch refused the job request: {e.message}") from e
        except gexc.GoogleAPIError as e:
            raise translate(f"create job {request.job_id}", e) from e

    def get_job(self, name: str) -> batch_v1.Job:
        return _call(f"job {name}", lambda: self._service.get_job(name=name, timeout=CALL_TIMEOUT_S))

    def list_jobs(self, parent: str) -> Iterator[batch_v1.Job]:
        pager = _call(f"list jobs in {parent}", lambda: self._service.list_jobs(parent=parent, timeout=CALL_TIMEOUT_S))
        iterator = iter(pager)
        while True:
            job = _call(f"list jobs in {parent}", lambda: next(iterator, None))
            if job is None:
                return
            yield job

    def list_tasks(self, group: str) -> list[batch_v1.Task]:
        return _call(
            f"tasks of {group}",
            lambda: list(self._service.list_tasks(request={"parent": group, "page_size": 1000}, timeout=CALL_TIMEOUT_S)),
        )

    def cancel_job(self, name: str) -> None:
        """Ask Google to cancel; returns once the request is accepted (does not wait for CANCELLED)."""
        from google.api_core import exceptions as gexc

        try:
            self._service.cancel_job(name=name, timeout=CALL_TIMEOUT_S)
        except gexc.FailedPrecondition:
            # The job finished between our GetJob and CancelJob: cancelling it is a no-op.
            return
        except gexc.GoogleAPIError as e:
            raise translate(f"cancel job {name}", e) from e

    def delete_job(self, name: str) -> None:
        _call(f"delete job {name}", lambda: self._service.delete_job(name=name, timeout=CALL_TIMEOUT_S))


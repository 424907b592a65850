"""The ``google-batch`` backend: jobs on Google Cloud Batch, one task group per job.

A job is ``projects/{project}/locations/{location}/jobs/{job_id}`` with ``job_id`` the spine's
job id; ``submit`` returns that full name, and every other call takes it, or a bare job id: that
is looked up first with GetJob in its own location (where this backend submitted it, else the
region of its job type's shipped config), and only if absent there among the jobs of every
location (``locations/-``). The request is built by
``request.py``; Google's API is reached only through ``client.py`` (and ``logs.py`` for Cloud
Logging), which import the SDK lazily and translate its errors.

State mapping (Google → offbatch):

| Google ``JobStatus.State`` | offbatch ``JobState`` |
|---|---|
| STATE_UNSPECIFIED, QUEUED | QUEUED |
| SCHEDULED | SCHEDULED |
| RUNNING | RUNNING |
| SUCCEEDED | SUCCEEDED |
| FAILED | FAILED |
| CANCELLATION_IN_PROGRESS | CANCELLATION_IN_PROGRESS |
| CANCELLED | CANCELLED |
| DELETION_IN_PROGRESS | DELETION_IN_PROGRESS |

| Google ``TaskStatus.State`` | offbatch ``TaskState`` |
|---|---|
| STATE_UNSPECIFIED, PENDING | PENDING |
| ASSIGNED | ASSIGNED |
| RUNNING | RUNNING |
| SUCCEEDED | SUCCEEDED |
| FAILED | FAILED |
| UNEXECUTED | UNEXECUTED |
| any unfinished state while the job is cancelled or cancelling | CANCELLED (Google has no such task state) |

Per task, ``attempts`` counts the moves into RUNNING among its status events, ``run_seconds``
adds up the time spent RUNNING (what the VM time cost), ``exit_code`` is the last execution's.

| method | calls | blocks? |
|---|---|---|
| ``describe`` | none | no |
| ``submit`` | CreateJob | until Google accepted the job |
| ``status`` | GetJob + ListTasks | no |
| ``list`` | ListJobs in every location (job states only; tasks come with ``status``) | no |
| ``cancel`` | GetJob, then CancelJob unless finished/cancelling | no (idempotent) |
| ``logs`` | GetJob, Cloud Logging ListLogEntries | with ``follow``, until the job finishes |
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from offbatch import contract
from offbatch.backends.base import Backend, JobSpec, JobState, JobStatus
from offbatch.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from offbatch.backends.google_batch.client import BatchClient
    from offbatch.backends.google_batch.logs import LogReader
    from offbatch.config import JobConfig
    from offbatch.settings import Settings

MISSING_SDK = "the 'google-batch' backend needs the package 'google-cloud-batch', which is not installed"
INSTALL_HINT = "install it with: pip install 'offbatch[gcp]'"
# Shown in ``describe`` when no project is configured, so a dry run works on a fresh clone.
PROJECT_PLACEHOLDER = "<OFFBATCH_GOOGLE_PROJECT>"
# Only jobs carrying this label are offbatch's (a project may run other Batch jobs).
JOB_LABEL = "offbatch-job-id"
ANY_LOCATION = "-"


class GoogleBatchBackend(Backend):
    name: ClassVar[str] = "google-batch"

    def __init__(
        self,
        settings: Settings,
        *,
        client: BatchClient | None = None,
        log_reader: LogReader | None = None,
        follow_interval_s: float | None = None,
    ) -> None:
        super().__init__(settings)
        self._client = client
        self._log_reader = log_reader
        self._follow_interval_s = follow_interval_s
        self._submitted: dict[str, str] = {}  # job id -> location, of jobs submitted by this instance

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def project(self) -> str:
        if not self.settings.google_project:
            raise ConfigError(
                "OFFBATCH_GOOGLE_PROJECT is required with the 'google-batch' backend",
                hint="export OFFBATCH_GOOGLE_PROJECT=<your Google Cloud project id>",
            )
        return self.settings.google_project

    @property
    def sdk_installed(self) -> bool:
        """Whether google-cloud-batch (the ``gcp`` extra) can be imported, without importing it."""
        try:
            return importlib.util.find_spec("google.cloud.batch_v1") is not None
        except ModuleNotFoundError:  # find_spec imports the parents: no "google" at all
            return False

    def _require_sdk(self) -> None:
        if self._client is None and not self.sdk_installed:
            raise ConfigError(MISSING_SDK, hint=INSTALL_HINT)

    @property
    def client(self) -> BatchClient:
        if self._client is None:
            self._require_sdk()
            _ = self.project  # the clearer error first
            from offbatch.backends.google_batch.client import BatchClient

            self._client = BatchClient.from_settings(self.settings)
        return self._client

    def _name(self, ref: str) -> str:
        """The full job name for a ``submit`` reference or a bare job id."""
        if ref.startswith("projects/"):
            return ref
        if "/" in ref or not ref:
            raise ConfigError(f"not a Google Batch job name or id: {ref!r}")
        from offbatch.backends.google_batch.request import parent

        # A bare id: one GetJob where it should be, before listing every location's jobs.
        for location in self._home_locations(ref):
            name = f"{parent(self.project, location)}/jobs/{ref}"
            try:
                self.client.get_job(name)
            except NotFoundError:
                continue
            return name
        for job in self.client.list_jobs(f"projects/{self.project}/locations/{ANY_LOCATION}"):
            if job.name.rsplit("/", 1)[-1] == ref:
                return job.name
        raise NotFoundError(f"job {ref!r} not found on Google Batch in project {self.project!r}")

    def _home_locations(self, job_id: str) -> list[str]:
        """Where ``job_id`` should be: where it was submitted from here, its job type's region."""
        from offbatch.config import load_config
        from offbatch.jobs import get_job_type, job_type_names

        locations = [self._submitted[job_id]] if job_id in self._submitted else []
        for name in job_type_names():
            if job_id.startswith(f"{name}-"):
                try:
                    location = load_config(get_job_type(name).config_path(self.name)).location
                except ConfigError:
                    continue
                if location not in locations:
                    locations.append(location)
        return locations

    # -- contract ---------------------------------------------------------------------------

    def validate(self, config: JobConfig) -> None:
        if not config.container_image_uri:
            raise ConfigError("container_image_uri: required by the 'google-batch' backend (the worker image)")
        if config.location == "local":
            raise ConfigError("location: 'local' is not a Google Cloud region; use e.g. 'europe-west4'")
        if config.machine_type == "local":
            raise ConfigError("machine_type: 'local' is not a Compute Engine machine type; use e.g. 'g2-standard-8'")

    def describe(self, spec: JobSpec) -> dict[str, Any]:
        from offbatch.backends.google_batch import request

        self.validate(spec.config)
        if self._client is None and not self.sdk_installed:
            # The request is built from google-cloud-batch's own messages: without them there is
            # no request to show (preflight lists the missing extra as a problem).
            return {"unavailable": f"{MISSING_SDK}; {INSTALL_HINT}"}
        project = self.settings.google_project or PROJECT_PLACEHOLDER
        return request.request_as_json(request.build_request(
            spec, project=project, redact=True, pubsub_topic=self.settings.notify_pubsub_topic))

    def submit(self, spec: JobSpec) -> str:
        from offbatch.backends.google_batch import request

        self.validate(spec.config)
        self._require_sdk()
        problems = self.preflight(spec)
        if problems:
            raise ConfigError(problems[0], hint="see docs/operations.md")
        project = self.project
        job = self.client.create_job(request=request.build_request(
            spec, project=project, pubsub_topic=self.settings.notify_pubsub_topic))
        self._submitted[spec.job_id] = spec.config.location
        return job.name or f"{request.parent(project, spec.config.location)}/jobs/{spec.job_id}"

    def status(self, ref: str) -> JobStatus:
        from offbatch.backends.google_batch import status

        job = self.client.get_job(self._name(ref))
        tasks = []
        for group in self._groups(job):
            tasks.extend(self.client.list_tasks(group))
        return status.job_status(job, tasks, now=datetime.now(UTC))

    def list(self) -> list[JobStatus]:
        from offbatch.backends.google_batch import status

        jobs = self.client.list_jobs(f"projects/{self.project}/locations/{ANY_LOCATION}")
        return [status.job_status(job, []) for job in jobs if JOB_LABEL in job.labels]

    def cancel(self, ref: str) -> None:
        from offbatch.backends.google_batch import status

        name = self._name(ref)
        state = status.job_state(self.client.get_job(name))
        if state.is_finished() or state in (JobState.CANCELLATION_IN_PROGRESS, JobState.DELETION_IN_PROGRESS):
            return
        self.client.cancel_job(name)

    def logs(self, ref: str, *, task: int | None = None, follow: bool = False) -> Iterator[str]:
        from offbatch.backends.google_batch import status
        from offbatch.backends.google_batch.logs import FOLLOW_INTERVAL_S, LogReader

        name = self._name(ref)
        job = self.client.get_job(name)
        if self._log_reader is None:
            self._log_reader = LogReader.from_settings(self.settings, project=self.project)

        def finished() -> bool:
            return status.job_state(self.client.get_job(name)).is_finished()

        return self._log_reader.read(
            job_uid=job.uid,
            task=task,
            follow=follow,
            finished=finished,
            interval_s=self._follow_interval_s if self._follow_interval_s is not None else FOLLOW_INTERVAL_S,
            since=status.created_at(job),
        )

    def preflight(self, spec: JobSpec) -> list[str]:
        """Tasks run on Google's VMs: their folders must be in GCS, and a project must be set."""
        problems = []
        url = spec.env.get(contract.INPUT_URL, "")
        if url and not url.startswith("gs://") and not self.settings.google_batch_emulator_host:
            problems.append(
                f"the job's input is at {url}, which tasks on Google Cloud cannot reach: "
                "set OFFBATCH_STORAGE_URL=gs://BUCKET/prefix"
            )
        if not self.settings.google_project:
            problems.append("OFFBATCH_GOOGLE_PROJECT is not set: the Google Cloud project to run the job in")
        if self._client is None and not self.sdk_installed:
            problems.append(f"{MISSING_SDK}: {INSTALL_HINT}")
        return problems

    @staticmethod
    def _groups(job: Any) -> list[str]:
        # Batch names the first (our only) group "group0"; older responses may omit the name.
        names = [group.name for group in job.task_groups if group.name]
        return names or [f"{job.name}/taskGroups/group0"]

"""The CreateJobRequest that a JobSpec becomes: every config field lands in one place here.

| config field | request field |
|---|---|
| ``container_image_uri``, ``entrypoint``, ``commands``, ``image_streaming`` | ``task_spec.runnables[0].container`` (``enable_image_streaming``) |
| ``cpu_milli``, ``memory_mib``, ``boot_disk_mib`` | ``task_spec.compute_resource`` (``boot_disk_mib`` is the extra boot disk per task) |
| ``max_retry_count``, ``max_run_duration`` | ``task_spec`` |
| ``task_count``, ``parallelism`` | ``task_groups[0]`` |
| ``machine_type``, ``provisioning_model`` | ``allocation_policy.instances[0].policy`` |
| ``accelerator_type``/``count`` | ``allocation_policy.instances[0].policy.accelerators`` (inside the instance policy: a GPU listed anywhere else is never attached) |
| ``install_gpu_drivers`` | ``allocation_policy.instances[0].install_gpu_drivers`` |
| ``driver_version`` | ``...policy.accelerators[0].driver_version`` (only with accelerators: the image's CUDA 13 needs R580+) |
| ``location`` | the parent ``projects/{p}/locations/{location}`` and ``allocation_policy.location.allowed_locations`` |
| ``env`` + the worker contract | ``task_spec.environment.variables`` |
| spec labels (job id, job type) | ``labels`` of the job and of its VMs (``allocation_policy.labels``: billing export) |
| setting ``notify_pubsub_topic`` | ``notifications``: Batch publishes the job's state changes and its tasks' failures to that topic |

Retries (how Google counts them): ``max_retry_count`` is per task, not per job; every failed
attempt of a task, whatever its cause (a non-zero exit, a Spot preemption ``50001``, a lost or
rebooted VM ``50002``-``50004``/``50006``) uses one retry, and a retried task reruns on a fresh
VM with ``BATCH_TASK_RETRY_ATTEMPT`` incremented. The lifecycle policy (Google supports one) is
``FAIL_TASK`` on the exit codes that cannot succeed on a rerun: the worker's bad-input code
(``contract.EXIT_BAD_INPUT``, 3) and Batch's "max run duration exceeded"
(``contract.EXIT_TIMEOUT``, 50005) (the same shard
would time out again at the same price). Every other failure, preemption and VM errors included,
is retried up to ``max_retry_count``.

The import token travels in ``environment.variables``, not ``secret_variables`` (Secret
Manager) nor ``encrypted_variables`` (Cloud KMS): it is scoped to this one job, expires after
the job's worst-case run plus a grace period, and grants only the import of this job's own
output, which the service would import anyway by reconcile. Secret Manager or KMS would add an
API, a role and a per-job secret to create and delete for little gain. Consequence: anyone with
``batch.jobs.get`` on the project can read it; the signing key itself never leaves the service.
``describe()`` and every printed request show it redacted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from offbatch import contract

if TYPE_CHECKING:
    from google.cloud import batch_v1

    from offbatch.backends.base import JobSpec

# Batch's reserved exit codes for VM failures (preempted, lost, rebooted, unresponsive,
# recreated): all retried, each attempt spending one of max_retry_count.
VM_ERROR_EXIT_CODES = (contract.EXIT_PREEMPTED, 50002, 50003, 50004, 50006)
# Exit codes that fail a task at once: the same input or the same time limit fails again.
NO_RETRY_EXIT_CODES = (contract.EXIT_BAD_INPUT, contract.EXIT_TIMEOUT)

# Variables Batch sets on every task itself; sending them would conflict with its own.
BATCH_SET_VARIABLES = frozenset({contract.TASK_INDEX, contract.TASK_COUNT})


def parent(project: str, location: str) -> str:
    return f"projects/{project}/locations/{location}"


def build_job(spec: JobSpec, *, redact: bool, pubsub_topic: str | None = None) -> batch_v1.Job:
    """The Job message for ``spec``; with ``redact`` secret variables are replaced by a marker;
    with ``pubsub_topic`` Batch's own notifications go to that topic."""
    from google.cloud import batch_v1

    config = spec.config
    env = spec.redacted_env() if redact else dict(spec.env)
    variables = {k: v for k, v in env.items() if k not in BATCH_SET_VARIABLES}

    container = batch_v1.Runnable.Container(
        image_uri=config.container_image_uri or "",
        entrypoint=config.entrypoint or "",
        commands=list(config.commands),
        enable_image_streaming=config.image_streaming,
    )
    task_spec = batch_v1.TaskSpec(
        runnables=[batch_v1.Runnable(container=container, display_name=spec.job_type)],
        compute_resource=batch_v1.ComputeResource(
            cpu_milli=config.cpu_milli, memory_mib=config.memory_mib, boot_disk_mib=config.boot_disk_mib
        ),
        max_retry_count=config.max_retry_count,
        max_run_duration=timedelta(seconds=config.max_run_duration),
        lifecycle_policies=[
            batch_v1.LifecyclePolicy(
                action=batch_v1.LifecyclePolicy.Action.FAIL_TASK,
                action_condition=batch_v1.LifecyclePolicy.ActionCondition(exit_codes=list(NO_RETRY_EXIT_CODES)),
            )
        ],
        environment=batch_v1.Environment(variables=variables),
    )
    group = batch_v1.TaskGroup(task_spec=task_spec, task_count=config.task_count, parallelism=config.parallelism)

    policy = batch_v1.AllocationPolicy.InstancePolicy(
        machine_type=config.machine_type,
        provisioning_model=(
            batch_v1.AllocationPolicy.ProvisioningModel.SPOT
            if config.spot
            else batch_v1.AllocationPolicy.ProvisioningModel.STANDARD
        ),
    )
    if config.accelerator_type:
        policy.accelerators = [
            batch_v1.AllocationPolicy.Accelerator(
                type_=config.accelerator_type,
                count=config.accelerator_count,
                driver_version=config.driver_version,
            )
        ]
    allocation = batch_v1.AllocationPolicy(
        location=batch_v1.AllocationPolicy.LocationPolicy(allowed_locations=[f"regions/{config.location}"]),
        instances=[
            batch_v1.AllocationPolicy.InstancePolicyOrTemplate(
                policy=policy, install_gpu_drivers=config.install_gpu_drivers
            )
        ],
        labels=dict(spec.labels),
    )
    return batch_v1.Job(
        task_groups=[group],
        allocation_policy=allocation,
        labels=dict(spec.labels),
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
        notifications=_notifications(pubsub_topic) if pubsub_topic else [],
    )


def _notifications(topic: str) -> list[batch_v1.JobNotification]:
    from google.cloud import batch_v1

    kind = batch_v1.JobNotification.Type
    return [
        batch_v1.JobNotification(pubsub_topic=topic, message=batch_v1.JobNotification.Message(type_=kind.JOB_STATE_CHANGED)),
        batch_v1.JobNotification(pubsub_topic=topic, message=batch_v1.JobNotification.Message(
            type_=kind.TASK_STATE_CHANGED, new_task_state=batch_v1.TaskStatus.State.FAILED)),
    ]


def build_request(spec: JobSpec, *, project: str, redact: bool = False,
                  pubsub_topic: str | None = None) -> batch_v1.CreateJobRequest:
    from google.cloud import batch_v1

    return batch_v1.CreateJobRequest(
        parent=parent(project, spec.config.location), job_id=spec.job_id,
        job=build_job(spec, redact=redact, pubsub_topic=pubsub_topic),
    )


def request_as_json(request: batch_v1.CreateJobRequest) -> dict[str, Any]:
    """The request as the REST API's JSON (camelCase, enum names), for ``--dry-run``."""
    from google.cloud import batch_v1

    text = batch_v1.CreateJobRequest.to_json(
        request, use_integers_for_enums=False, always_print_fields_with_no_presence=False
    )
    return json.loads(text)

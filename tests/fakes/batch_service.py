"""An in-process fake of Google Cloud Batch (and of Cloud Logging's read API) over real gRPC.

The real ``BatchServiceClient`` talks to it through an insecure channel: requests and responses
are the proto-plus messages' own wire format, served by grpc generic handlers under
``google.cloud.batch.v1.BatchService``. CreateJob refuses with INVALID_ARGUMENT what Google
refuses (``batch_rules``: machine table, locations, labels, retries, lifecycle policies, images,
GPU drivers, task limits). Jobs move QUEUED → SCHEDULED → RUNNING → SUCCEEDED/FAILED in a thread
per job; each task attempt is ASSIGNED, spends ``startup_s`` booting its VM, installing drivers
and pulling its image (written to ``batch_agent_logs``), then runs through a pluggable runner
(``task_runners``), honouring task_count, parallelism, max_retry_count, the lifecycle policy
(FAIL_TASK/RETRY_TASK on exit codes) and max_run_duration. What tasks print becomes
``batch_task_logs`` entries. As on Google, a task event carries ``task_execution`` (the exit
code) only when the attempt failed.

Usage::

    with FakeBatchServer(runner=ScriptedRunner()) as server:
        client = BatchServiceClient(transport=BatchServiceGrpcTransport(channel=server.channel()))
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import grpc
from google.cloud import batch_v1
from google.longrunning import operations_pb2

from tests.fakes import batch_rules
from tests.fakes.logging_service import FakeLogStore, logging_handler
from tests.fakes.task_runners import EXIT_CANCELLED, ScriptedRunner, TaskRun

SERVICE = "google.cloud.batch.v1.BatchService"
JOB_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
PARENT = re.compile(r"^projects/[^/]+/locations/[^/]+$")
State = batch_v1.JobStatus.State
TState = batch_v1.TaskStatus.State
# What a container's image pull failure exits with (docker run's own error code).
EXIT_PULL_FAILED = 125


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Record:
    job: batch_v1.Job
    tasks: list[batch_v1.Task]
    gate: threading.Event
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class FakeBatchService:
    """Keeps jobs in memory and runs them; thread-safe (one lock around all state)."""

    def __init__(self, *, runner: Any = None, hold: bool = False, logs: FakeLogStore | None = None,
                 startup_s: float = 0.05) -> None:
        self.runner = runner or ScriptedRunner()
        # hold=True: new jobs stay QUEUED until ``release(job_id)``.
        self.hold = hold
        # Seconds between a task's ASSIGNED and RUNNING: VM boot, driver install, image pull.
        self.startup_s = startup_s
        # Image URIs whose pull fails (the task fails with EXIT_PULL_FAILED, the agent logs why).
        self.unpullable: set[str] = set()
        self.logs = logs or FakeLogStore()
        self.calls: Counter[str] = Counter()
        self.requests: list[batch_v1.CreateJobRequest] = []
        self._jobs: dict[str, _Record] = {}
        self._lock = threading.RLock()

    # -- gRPC surface -----------------------------------------------------------------------

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.deserialize, response_serializer=resp.serialize
            )

        def operation(fn: Any, req: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.deserialize, response_serializer=operations_pb2.Operation.SerializeToString
            )

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateJob": unary(self.CreateJob, batch_v1.CreateJobRequest, batch_v1.Job),
                "GetJob": unary(self.GetJob, batch_v1.GetJobRequest, batch_v1.Job),
                "ListJobs": unary(self.ListJobs, batch_v1.ListJobsRequest, batch_v1.ListJobsResponse),
                "GetTask": unary(self.GetTask, batch_v1.GetTaskRequest, batch_v1.Task),
                "ListTasks": unary(self.ListTasks, batch_v1.ListTasksRequest, batch_v1.ListTasksResponse),
                "CancelJob": operation(self.CancelJob, batch_v1.CancelJobRequest),
                "DeleteJob": operation(self.DeleteJob, batch_v1.DeleteJobRequest),
            },
        )

    def CreateJob(self, request: batch_v1.CreateJobRequest, context: grpc.ServicerContext) -> batch_v1.Job:
        self.calls["CreateJob"] += 1
        if not PARENT.match(request.parent):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {request.parent!r}")
        if not JOB_ID.match(request.job_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"job_id {request.job_id!r} does not match {JOB_ID.pattern}")
        if len(request.job.task_groups) != 1 or not request.job.task_groups[0].task_spec.runnables:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "exactly one task group with runnables is required")
        refused = batch_rules.refusals(request)
        if refused:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(refused))
        name = f"{request.parent}/jobs/{request.job_id}"
        job = batch_v1.Job(request.job)
        job.name, job.uid = name, f"{request.job_id[:40]}-{uuid.uuid4().hex[:8]}"
        job.create_time = job.update_time = _now()
        group = job.task_groups[0]
        group.name = f"{name}/taskGroups/group0"
        group.task_count = group.task_count or 1
        group.parallelism = group.parallelism or group.task_count
        job.status = batch_v1.JobStatus(state=State.QUEUED)
        self._job_event(job, "Job state is set from STATE_UNSPECIFIED to QUEUED")
        tasks = [
            batch_v1.Task(name=f"{group.name}/tasks/{i}", status=batch_v1.TaskStatus(state=TState.PENDING))
            for i in range(group.task_count)
        ]
        with self._lock:
            if name in self._jobs:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"job {name} already exists")
            self.requests.append(request)
            record = _Record(job=job, tasks=tasks, gate=threading.Event())
            if not self.hold:
                record.gate.set()
            self._jobs[name] = record
            self._counts(record)
            record.thread = threading.Thread(target=self._run_job, args=(record,), daemon=True, name=f"fake-{name}")
            record.thread.start()
            return batch_v1.Job(job)

    def GetJob(self, request: batch_v1.GetJobRequest, context: grpc.ServicerContext) -> batch_v1.Job:
        self.calls["GetJob"] += 1
        with self._lock:
            return batch_v1.Job(self._record(request.name, context).job)

    def ListJobs(self, request: batch_v1.ListJobsRequest, context: grpc.ServicerContext) -> batch_v1.ListJobsResponse:
        self.calls["ListJobs"] += 1
        project, _, location = request.parent.removeprefix("projects/").partition("/locations/")
        with self._lock:
            names = sorted(
                n for n in self._jobs
                if n.startswith(f"projects/{project}/locations/") and (location == "-" or f"/locations/{location}/" in n)
            )
            start = int(request.page_token or 0)
            size = request.page_size or 50
            page = [batch_v1.Job(self._jobs[n].job) for n in names[start:start + size]]
        token = str(start + size) if start + size < len(names) else ""
        return batch_v1.ListJobsResponse(jobs=page, next_page_token=token)

    def GetTask(self, request: batch_v1.GetTaskRequest, context: grpc.ServicerContext) -> batch_v1.Task:
        self.calls["GetTask"] += 1
        job_name = request.name.split("/taskGroups/")[0]
        with self._lock:
            for task in self._record(job_name, context).tasks:
                if task.name == request.name:
                    return batch_v1.Task(task)
        context.abort(grpc.StatusCode.NOT_FOUND, f"task {request.name} not found")

    def ListTasks(self, request: batch_v1.ListTasksRequest, context: grpc.ServicerContext) -> batch_v1.ListTasksResponse:
        self.calls["ListTasks"] += 1
        job_name = request.parent.split("/taskGroups/")[0]
        with self._lock:
            record = self._record(job_name, context)
            if request.parent != record.job.task_groups[0].name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"task group {request.parent} not found")
            return batch_v1.ListTasksResponse(tasks=[batch_v1.Task(t) for t in record.tasks])

    def CancelJob(self, request: batch_v1.CancelJobRequest, context: grpc.ServicerContext) -> Any:
        self.calls["CancelJob"] += 1
        with self._lock:
            record = self._record(request.name, context)
            state = record.job.status.state
            if state in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"job {request.name} is already {state.name}")
            if state != State.CANCELLATION_IN_PROGRESS:
                self._set_state(record, State.CANCELLATION_IN_PROGRESS)
                record.cancelled.set()
                record.gate.set()
        return operations_pb2.Operation(name=f"{request.name}/operations/cancel-{uuid.uuid4().hex[:8]}", done=True)

    def DeleteJob(self, request: batch_v1.DeleteJobRequest, context: grpc.ServicerContext) -> Any:
        self.calls["DeleteJob"] += 1
        with self._lock:
            record = self._record(request.name, context)
            record.cancelled.set()
            record.gate.set()
            del self._jobs[request.name]
        return operations_pb2.Operation(name=f"{request.name}/operations/delete-{uuid.uuid4().hex[:8]}", done=True)

    # -- test controls ----------------------------------------------------------------------

    def release(self, job_id: str) -> None:
        """Let a held job leave QUEUED."""
        with self._lock:
            for name, record in self._jobs.items():
                if name.endswith(f"/jobs/{job_id}"):
                    record.gate.set()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every job's thread has finished (for teardown)."""
        with self._lock:
            threads = [r.thread for r in self._jobs.values() if r.thread]
        for thread in threads:
            thread.join(timeout)

    # -- the job's life ---------------------------------------------------------------------

    def _record(self, name: str, context: grpc.ServicerContext) -> _Record:
        record = self._jobs.get(name)
        if record is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Job {name} not found")
        return record

    def _job_event(self, job: batch_v1.Job, description: str) -> None:
        job.status.status_events.append(
            batch_v1.StatusEvent(type_="STATUS_CHANGED", description=description, event_time=_now())
        )
        job.update_time = _now()

    def _set_state(self, record: _Record, new: State) -> None:
        job = record.job
        old = job.status.state
        if old == new:
            return
        job.status.state = new
        self._job_event(job, f"Job state is set from {old.name} to {new.name} for job {job.name}.")
        if new in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
            start = next((e.event_time for e in job.status.status_events if "to RUNNING" in e.description), None)
            if start:
                job.status.run_duration = _now() - start

    def _task_event(self, record: _Record, index: int, new: TState, *, exit_code: int | None = None,
                    note: str = "") -> None:
        with self._lock:
            status = record.tasks[index].status
            event = batch_v1.StatusEvent(
                type_="STATUS_CHANGED",
                description=f"Task state is updated from {status.state.name} to {new.name}{note}",
                event_time=_now(),
                task_state=new,
            )
            if exit_code is not None:
                event.task_execution = batch_v1.TaskExecution(exit_code=exit_code)
            status.status_events.append(event)
            status.state = new
            self._counts(record)

    def _counts(self, record: _Record) -> None:
        counts = Counter(t.status.state.name for t in record.tasks)
        record.job.status.task_groups["group0"] = batch_v1.JobStatus.TaskGroupStatus(counts=dict(counts))

    def _run_job(self, record: _Record) -> None:
        record.gate.wait()
        group = record.job.task_groups[0]
        with self._lock:
            if record.cancelled.is_set():
                self._set_state(record, State.CANCELLED)
                return
            self._set_state(record, State.SCHEDULED)
        failed = threading.Event()
        with futures.ThreadPoolExecutor(max_workers=group.parallelism, thread_name_prefix="fake-task") as pool:
            results = [pool.submit(self._run_task, record, i, failed) for i in range(group.task_count)]
            futures.wait(results)
        for result in results:
            result.result()  # a bug in the fake surfaces here rather than hanging a test
        with self._lock:
            if record.cancelled.is_set():
                self._set_state(record, State.CANCELLED)
            elif failed.is_set():
                for i, task in enumerate(record.tasks):
                    if task.status.state in (TState.PENDING, TState.ASSIGNED):
                        self._task_event(record, i, TState.UNEXECUTED)
                self._set_state(record, State.FAILED)
            else:
                self._set_state(record, State.SUCCEEDED)

    def _run_task(self, record: _Record, index: int, failed: threading.Event) -> None:
        group = record.job.task_groups[0]
        spec = group.task_spec
        container = spec.runnables[0].container
        for attempt in range(spec.max_retry_count + 1):
            if record.cancelled.is_set() or failed.is_set():
                return  # a failed job runs no new task; Google marks them UNEXECUTED
            self._task_event(record, index, TState.ASSIGNED, note=" on zones/fake-a/instances/fake-vm")
            code = self._start_vm(record, index, attempt)
            if record.cancelled.is_set():
                return
            if code is not None:
                self._task_event(record, index, TState.FAILED, exit_code=code, note=f" with exit code {code}")
                if not self._retry(spec, code) or attempt == spec.max_retry_count:
                    failed.set()
                    return
                self._task_event(record, index, TState.PENDING, note=" to retry")
                continue
            with self._lock:
                self._set_state(record, State.RUNNING)
            self._task_event(record, index, TState.RUNNING)
            run = TaskRun(
                index=index,
                count=group.task_count,
                attempt=attempt,
                image_uri=container.image_uri,
                entrypoint=container.entrypoint,
                commands=list(container.commands),
                env=dict(spec.environment.variables),
                timeout_s=spec.max_run_duration.total_seconds() if spec.max_run_duration else None,
                log=lambda line, i=index, a=attempt: self.logs.write(record.job, task=i, attempt=a, text=line),
                cancelled=record.cancelled,
            )
            code = self.runner(run)
            if code == EXIT_CANCELLED or record.cancelled.is_set():
                return
            if code == 0:
                self._task_event(record, index, TState.SUCCEEDED)  # Google sets no task_execution here
                return
            self._task_event(record, index, TState.FAILED, exit_code=code, note=f" with exit code {code}")
            if not self._retry(spec, code) or attempt == spec.max_retry_count:
                failed.set()
                return
            self._task_event(record, index, TState.PENDING, note=" to retry")

    def _start_vm(self, record: _Record, index: int, attempt: int) -> int | None:
        """Boot, drivers, image pull: agent log lines and ``startup_s``; an exit code if the pull fails."""
        instance = record.job.allocation_policy.instances[0] if record.job.allocation_policy.instances else None
        image = record.job.task_groups[0].task_spec.runnables[0].container.image_uri

        def agent(text: str) -> None:
            self.logs.write(record.job, task=index, attempt=attempt, text=text, agent=True)

        agent(f"Task task/{record.job.uid}-group0-{index}/{attempt}/0 is assigned to VM fake-vm")
        if instance is not None and instance.install_gpu_drivers:
            agent("Installing GPU drivers")
        record.cancelled.wait(self.startup_s)
        if image:
            agent(f"Pulling image {image}")
            if image in self.unpullable:
                agent(f"Error response from daemon: manifest for {image} not found: manifest unknown")
                return EXIT_PULL_FAILED
        return None

    @staticmethod
    def _retry(spec: batch_v1.TaskSpec, code: int) -> bool:
        """Google's rule: FAIL_TASK fails on a listed code, RETRY_TASK retries only listed ones."""
        for policy in spec.lifecycle_policies:
            listed = code in policy.action_condition.exit_codes
            if policy.action == batch_v1.LifecyclePolicy.Action.FAIL_TASK:
                return not listed
            if policy.action == batch_v1.LifecyclePolicy.Action.RETRY_TASK:
                return listed
        return True


class FakeBatchServer:
    """A gRPC server on 127.0.0.1 serving a FakeBatchService and a fake Logging read API."""

    def __init__(self, service: FakeBatchService | None = None, **service_options: Any) -> None:
        self.service = service or FakeBatchService(**service_options)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-grpc"))
        self._server.add_generic_rpc_handlers((self.service.handler(), logging_handler(self.service.logs)))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self._channels: list[grpc.Channel] = []

    def start(self) -> FakeBatchServer:
        self._server.start()
        return self

    def channel(self) -> grpc.Channel:
        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return channel

    def stop(self) -> None:
        with self.service._lock:
            for record in self.service._jobs.values():
                record.cancelled.set()
                record.gate.set()
        self.service.wait_idle(timeout=10)
        for channel in self._channels:
            channel.close()
        self._server.stop(grace=None).wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

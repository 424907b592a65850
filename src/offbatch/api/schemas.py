"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from offbatch.db.tables import as_utc

# Google Batch's job name pattern, which job ids follow (DESIGN.md).
JOB_ID_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
# Printable filter values without NUL (PostgreSQL cannot compare them).
TAG_PATTERN = r"^[^\x00-\x1f]{1,100}$"
MAX_ID = 2**63 - 1


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=JOB_ID_PATTERN, max_length=63)
    job_type: str = Field(pattern=JOB_ID_PATTERN, max_length=63)
    # Which task sent it (the worker contract sends it; informational: the import is per job).
    task_index: int | None = Field(default=None, ge=0, le=100_000)


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_id: str
    state: str
    deliveries: int
    parts_done: int
    parts_total: int
    rows_done: int
    rows_skipped: int
    predictions_created: int
    insights_created: int
    insights_updated: int
    error: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    finished_at: UtcDatetime | None


class ImportAccepted(BaseModel):
    import_id: int
    job_id: str
    state: str
    deliveries: int
    status_url: str


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    job_type: str
    backend: str
    state: str
    reason: str | None
    task_count: int
    rows_selected: int
    engine: str
    cost_estimate_usd: float | None
    cost_actual_usd: float | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    finished_at: UtcDatetime | None


class JobRow(JobOut):
    """A job as the console's jobs page lists it."""

    # Tasks by state at the last refresh, e.g. {"SUCCEEDED": 3, "RUNNING": 1}.
    task_counts: dict[str, int] | None = None
    # Rows whose results exist (finished chunks and parts); None when storage could not be read.
    rows_done: int | None = None
    imports: ImportOut | None = None


class TaskOut(BaseModel):
    index: int
    state: str
    attempts: int
    exit_code: int | None
    reason: str | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    run_seconds: float


class EventOut(BaseModel):
    time: UtcDatetime
    description: str
    state: str | None


class JobDetail(JobRow):
    # What the job was launched with (resources, limits, engine), without secrets or storage URL.
    config_summary: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskOut] = Field(default_factory=list)
    events: list[EventOut] = Field(default_factory=list)
    # Why tasks and events are missing, when the backend could not be asked.
    backend_error: str | None = None
    insights_open: int = 0
    insights_annotated: int = 0


class JobList(BaseModel):
    jobs: list[JobRow]


class TaskLogs(BaseModel):
    job_id: str
    task: int
    lines: list[str]
    # Pass it back as ``cursor`` to get only the lines written since.
    next_cursor: int
    # The job is finished: no line will be added.
    finished: bool


class CancelOut(BaseModel):
    job_id: str
    state: str


class InsightOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    barcode: str
    type: str
    value_tag: str | None
    data: dict[str, Any]
    predictor: str
    predictor_version: str
    prediction_id: int | None
    job_id: str | None
    annotation: int | None
    annotated_at: UtcDatetime | None
    annotated_by: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class InsightPage(BaseModel):
    count: int
    page: int
    page_size: int
    insights: list[InsightOut]


class AnnotateRequest(BaseModel):
    # The document states the rule the service applies (insights.annotate): an edit carries its
    # correction, accept and reject carry none; so a body valid by the schema is never refused.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"properties": {"annotation": {"enum": ["accept", "reject"]}, "correction": {"type": "null"}}},
        {"properties": {"annotation": {"const": "edit"}, "correction": {"type": "string"}},
         "required": ["correction"]},
    ]})

    annotation: Literal["accept", "reject", "edit"]
    correction: str | None = Field(default=None, min_length=1, max_length=100_000)
    username: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f]*$")

    @model_validator(mode="after")
    def _correction_with_edit_only(self) -> AnnotateRequest:
        if self.annotation == "edit" and self.correction is None:
            raise ValueError("an edit needs the corrected text in 'correction'")
        if self.annotation != "edit" and self.correction is not None:
            raise ValueError("'correction' is only for annotation 'edit'")
        return self

"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Google Batch's job name pattern, which job ids follow (DESIGN.md).
JOB_ID_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
# Printable filter values without NUL (PostgreSQL cannot compare them).
TAG_PATTERN = r"^[^\x00-\x1f]{1,100}$"
MAX_ID = 2**63 - 1


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
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


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
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class JobDetail(JobOut):
    imports: ImportOut | None = None


class JobList(BaseModel):
    jobs: list[JobOut]


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
    annotated_at: datetime | None
    annotated_by: str | None
    created_at: datetime
    updated_at: datetime


class InsightPage(BaseModel):
    count: int
    page: int
    page_size: int
    insights: list[InsightOut]


class AnnotateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotation: Literal["accept", "reject", "edit"]
    correction: str | None = Field(default=None, min_length=1, max_length=100_000)
    username: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f]*$")

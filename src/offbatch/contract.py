"""The worker contract (version 1): what every task receives, whatever the backend.

| variable | meaning |
|---|---|
| ``OFFBATCH_CONTRACT`` | contract version, ``1`` |
| ``OFFBATCH_JOB_ID`` | the job id |
| ``OFFBATCH_JOB_TYPE`` | the job type name |
| ``OFFBATCH_INPUT_URL`` | folder of input parts (``part-00000.parquet`` ...) |
| ``OFFBATCH_OUTPUT_URL`` | folder where task *i* writes ``part-0000i.parquet`` |
| ``OFFBATCH_ENGINE`` | engine name (``cpu``, ``vllm``) |
| ``OFFBATCH_CHUNK_SIZE`` | rows per engine call |
| ``BATCH_TASK_INDEX`` | this task's index, set by Google Batch itself (and by ``local``) |
| ``BATCH_TASK_COUNT`` | number of tasks, set the same way |
| ``OFFBATCH_WEBHOOK_URL`` | optional: import endpoint to notify when the part is written |
| ``OFFBATCH_IMPORT_TOKEN`` | secret: job-scoped bearer token for that endpoint |
| ``OFFBATCH_SMOKE`` | optional: ``1`` for an operator's smoke job (``offbatch smoke``): log each check |

A container that works on the local backend works on Google Batch: both set exactly these.
"""

from __future__ import annotations

CONTRACT_VERSION = "1"

JOB_ID = "OFFBATCH_JOB_ID"
JOB_TYPE = "OFFBATCH_JOB_TYPE"
INPUT_URL = "OFFBATCH_INPUT_URL"
OUTPUT_URL = "OFFBATCH_OUTPUT_URL"
ENGINE = "OFFBATCH_ENGINE"
CHUNK_SIZE = "OFFBATCH_CHUNK_SIZE"
TASK_INDEX = "BATCH_TASK_INDEX"
TASK_COUNT = "BATCH_TASK_COUNT"
WEBHOOK_URL = "OFFBATCH_WEBHOOK_URL"
IMPORT_TOKEN = "OFFBATCH_IMPORT_TOKEN"
CONTRACT = "OFFBATCH_CONTRACT"
SMOKE = "OFFBATCH_SMOKE"

# Variables whose values are secrets: redacted in every description, log and file.
SECRET_VARIABLES = frozenset({IMPORT_TOKEN})
REDACTED = "<redacted>"

# Exit codes a task may end with, and what backends do with them.
EXIT_OK = 0
# The task's input or environment is wrong: retrying cannot help, fail the task at once.
EXIT_BAD_INPUT = 3
# Google Batch's exit code for a task whose VM was preempted (spot): retried without spending
# a retry. The local backend reproduces it for tests of preemption.
EXIT_PREEMPTED = 50001
# Google Batch's exit code for a task killed at max_run_duration.
EXIT_TIMEOUT = 50005

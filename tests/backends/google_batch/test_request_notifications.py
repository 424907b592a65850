"""Batch's own Pub/Sub notifications in the request when a topic is configured."""

from __future__ import annotations

from google.cloud import batch_v1

from offbatch.backends.google_batch import request
from tests.backends.google_batch.conftest import make_spec


def test_the_google_batch_request_carries_the_pubsub_topic():
    topic = "projects/p/topics/offbatch-jobs"
    job = request.build_job(make_spec(), redact=True, pubsub_topic=topic)
    kinds = [(n.pubsub_topic, n.message.type_, n.message.new_task_state) for n in job.notifications]
    assert kinds == [
        (topic, batch_v1.JobNotification.Type.JOB_STATE_CHANGED, batch_v1.TaskStatus.State.STATE_UNSPECIFIED),
        (topic, batch_v1.JobNotification.Type.TASK_STATE_CHANGED, batch_v1.TaskStatus.State.FAILED),
    ]
    assert not request.build_job(make_spec(), redact=True).notifications

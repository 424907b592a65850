"""The ``google-batch`` backend: Google Cloud Batch through google-cloud-batch (see ``backend.py``)."""

"""The HTTP API: the import webhook, job and import progress, insights review."""

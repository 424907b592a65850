"""The ``local`` backend: tasks as processes on this machine, with Google Batch's semantics."""

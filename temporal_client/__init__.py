"""The client side of Temporal: how to connect and how to start a run.

Used by the API, the worker and the `treeflow` CLI; it sits above `workflows/` (whose
models it fills in) and never runs inside the workflow sandbox.
"""

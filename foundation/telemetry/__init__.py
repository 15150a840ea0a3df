"""Observability primitives shared by the API and the worker.

Logging (`logs`, `redaction`), Prometheus metrics (`metrics`), OpenTelemetry tracing
(`tracing`) and health checks (`health`). Nothing here runs at import time: every
registry, provider and handler is built by an explicit call from a process's wiring.
"""

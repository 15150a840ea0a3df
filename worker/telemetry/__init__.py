"""Worker observability: run metrics, the metrics/health port, backlog, Temporal runtime."""

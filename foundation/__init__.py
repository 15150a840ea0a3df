"""Platform code every Treeflow process shares: telemetry, feature flags, tenant secrets.

The bottom of the layers: `api`, `worker`, `activities` and the CLI import it; it
imports nothing of ours. `telemetry` holds logging, metrics, tracing and health
checks, `flags` the Unleash client and its gates, `secrets` the tenant secret stores
and their key ring.
"""

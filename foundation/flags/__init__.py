"""Feature flags through Unleash: an embedded default from a flags file, or a real server.

`client.FlagClient` wraps `UnleashClient`; `gates` decides whether a tenant may use a
tool (version); `rollout` routes a run to a tree version when it starts. Evaluation
happens only where a run starts (API, CLI), never in workflow code.
"""

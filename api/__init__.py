"""Treeflow's HTTP API: auth, tenants, secrets, audit, and (later) trees, templates, tools, runs.

Build the ASGI application with :func:`api.app.create_app`.
"""

"""Treeflow's HTTP API: auth, tenants, secrets, audit, trees, templates, tools and runs.

Build the ASGI application with :func:`api.app.create_app`.
"""

"""The FastAPI service: auth, tenants, flags, trees, templates, tools and runs."""

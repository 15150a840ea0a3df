"""Authentication: access JWTs, refresh-token families, API keys, OAuth2/OIDC login."""

"""Who is calling: virtual API keys, OIDC/JWT bearer tokens, roles, and the role every endpoint allows."""

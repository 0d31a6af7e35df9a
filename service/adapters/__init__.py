"""Adapters: the database, the broker, outbound HTTP, provisioning, webhooks, OIDC keys, metrics, logs, configuration."""

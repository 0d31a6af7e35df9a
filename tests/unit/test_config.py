"""Settings read from the environment: an unset variable keeps the one default in ``Settings``,
a set one is parsed into its field."""
from __future__ import annotations

import pytest

from service.adapters.config import Settings


def test_unset_variables_keep_the_defaults_of_settings() -> None:
    assert Settings.from_env({}) == Settings(database_url="sqlite:///var/envdesk.db",
                                             broker_url="filesystem://var/broker")


def test_set_variables_are_parsed_into_their_settings() -> None:
    settings = Settings.from_env({
        "PROVISIONING_URL": "https://provisioning.example/", "PROVISIONING_MAX_ATTEMPTS": "3",
        "WEBHOOK_URLS": "https://a.example/hook, https://b.example/hook,",
        "TASK_LEASE_SECONDS": "90", "SLA_DECISION_HOURS": "stage=8,prod=4",
        "OIDC_ISSUER": "https://id.example/", "OIDC_AUDIENCE": "envdesk"})

    assert settings.provisioning_url == "https://provisioning.example"
    assert settings.provisioning_max_attempts == 3
    assert settings.webhook_urls == ("https://a.example/hook", "https://b.example/hook")
    assert settings.lease_seconds == 90.0
    assert settings.sla_decision_hours == {"stage": 8.0, "prod": 4.0}
    assert settings.oidc_issuer == "https://id.example"
    assert settings.console_token_login is False  # an issuer signs staff in unless told otherwise


def test_an_empty_account_claim_keeps_the_default_claim() -> None:
    assert Settings.from_env({"OIDC_ACCOUNT_CLAIM": ""}).oidc_account_claim == "envdesk_account"


def test_a_malformed_number_stops_the_process_at_start_up() -> None:
    with pytest.raises(ValueError):
        Settings.from_env({"PROVISIONING_MAX_ATTEMPTS": "many"})


def test_database_pooler_pgbouncer_is_read_and_an_unknown_pooler_stops_the_process() -> None:
    assert Settings.from_env({"DATABASE_POOLER": "PgBouncer"}).database_pooler == "pgbouncer"
    assert Settings.from_env({}).problems() == []
    assert Settings.from_env({"DATABASE_POOLER": "pgpool"}).problems() == [
        "DATABASE_POOLER must be one of pgbouncer or unset"]

"""The settings model: defaults, typed values, and a clear error for a missing or malformed one."""

from __future__ import annotations

import ipaddress

import pytest

from asyncjobs.settings import Settings, SettingsError


def test_defaults_when_only_resources_are_given():
    # Given an environment with a table and nothing else
    settings = Settings.from_env({"JOBS_TABLE": "jobs"})

    # Then every other setting has its default
    assert settings.jobs_table == "jobs"
    assert settings.event_source == "asyncjobs"
    assert (settings.job_ttl_days, settings.max_receive_count, settings.poll_after_s) == (7, 5, 2)
    assert (settings.progress_interval_s, settings.download_url_ttl_s) == (1.0, 900)
    assert settings.webhook_require_https is True
    assert settings.webhook_allowed_networks == ()
    assert settings.webhook_time_scale == 1.0


def test_values_are_typed():
    settings = Settings.from_env(
        {
            "JOB_TTL_DAYS": "3",
            "PROGRESS_INTERVAL_SECONDS": "0",
            "WEBHOOK_REQUIRE_HTTPS": "False",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, ::1",
            "WEBHOOK_TIME_SCALE": "60",
            "EVENT_SOURCE": "",  # empty counts as unset
        }
    )

    assert settings.job_ttl_days == 3
    assert settings.progress_interval_s == 0.0
    assert settings.webhook_require_https is False
    assert settings.webhook_allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert settings.webhook_time_scale == 60.0
    assert settings.event_source == "asyncjobs"


@pytest.mark.parametrize("value", ["true", "1", "yes", "anything"])
def test_https_is_required_unless_turned_off(value):
    assert Settings.from_env({"WEBHOOK_REQUIRE_HTTPS": value}).webhook_require_https is True


def test_a_missing_resource_fails_when_read_not_before():
    # Given a function given only its own table (the authorizer)
    settings = Settings.from_env({"TENANTS_TABLE": "tenants"})

    # Then it reads that one, and only a resource it was not given raises, naming the variable
    assert settings.tenants_table == "tenants"
    with pytest.raises(SettingsError, match="JOBS_QUEUE_URL"):
        _ = settings.jobs_queue_url


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOB_TTL_DAYS", "seven"),
        ("MAX_RECEIVE_COUNT", "2.5"),
        ("PROGRESS_INTERVAL_SECONDS", "soon"),
        ("WEBHOOK_TIME_SCALE", "fast"),
        ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,localhost"),
    ],
)
def test_a_malformed_value_fails_at_once_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_model_is_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.job_ttl_days = 1  # type: ignore[misc]

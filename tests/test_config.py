"""Settings from the environment: Immich's worker split."""

from __future__ import annotations

import pytest

from immich_trio.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("env", "workers"),
    [
        ({}, {"api", "microservices"}),
        ({"IMMICH_WORKERS_INCLUDE": "api"}, {"api"}),
        ({"IMMICH_WORKERS_INCLUDE": " microservices , "}, {"microservices"}),
        ({"IMMICH_WORKERS_EXCLUDE": "api"}, {"microservices"}),
        ({"IMMICH_WORKERS_INCLUDE": "", "IMMICH_WORKERS_EXCLUDE": "microservices"}, {"api"}),
        ({"IMMICH_WORKERS_INCLUDE": "api,microservices", "IMMICH_WORKERS_EXCLUDE": "bogus"}, {"api", "microservices"}),
    ],
)
def test_workers_follow_immichs_include_and_exclude(env: dict[str, str], workers: set[str]) -> None:
    settings = load_settings(env)
    assert settings.workers == workers
    assert settings.runs_api == ("api" in workers)
    assert settings.runs_microservices == ("microservices" in workers)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"IMMICH_WORKERS_INCLUDE": "api,worker"}, "invalid worker(s): worker"),
        ({"IMMICH_WORKERS_INCLUDE": "API"}, "invalid worker(s): API"),
        ({"IMMICH_WORKERS_INCLUDE": "api", "IMMICH_WORKERS_EXCLUDE": "api"}, "leave no worker to run"),
    ],
)
def test_invalid_worker_sets_stop_the_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert problem in str(caught.value)
    assert "IMMICH_WORKERS_INCLUDE" in str(caught.value)

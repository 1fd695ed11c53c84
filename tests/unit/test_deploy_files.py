"""The deployment files keep their safety settings: restarts, a non-root user, a read-only
system with one writable data directory, health checks, resource limits, log rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("tradedeck.service", "tradedeck-watchdog.service")


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (a key may repeat, as EnvironmentFile does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} is outside any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("name", UNITS)
def test_systemd_units_restart_and_are_confined(name: str) -> None:
    unit = parse_unit(DEPLOY / "systemd" / name)
    service = unit["Service"]
    assert service["Restart"] == ["always"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"]
    assert service["User"] == ["tradedeck"]
    assert "/var/lib/tradedeck" in service["ReadWritePaths"][0].split()
    assert "TRADEDECK_DATA_DIR=/var/lib/tradedeck" in service["Environment"]
    assert service["EnvironmentFile"][0] == "/etc/tradedeck/tradedeck.env"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_watchdog_unit_runs_the_watchdog_on_its_own() -> None:
    app = parse_unit(DEPLOY / "systemd" / "tradedeck.service")
    watchdog = parse_unit(DEPLOY / "systemd" / "tradedeck-watchdog.service")
    assert app["Service"]["ExecStart"][0].endswith("tradedeck run")
    assert watchdog["Service"]["ExecStart"][0].endswith("tradedeck watchdog")
    # Bound to the app, it would stop when the app stops: exactly when it is needed.
    for key in ("BindsTo", "PartOf", "Requires"):
        assert not any("tradedeck.service" in v for v in watchdog["Unit"].get(key, []))
    assert "-/etc/tradedeck/watchdog.env" in watchdog["Service"]["EnvironmentFile"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_app_watchdog_postgres_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"app", "watchdog", "postgres", "redis"}
    assert services["app"]["command"] == ["tradedeck", "run"]
    assert services["watchdog"]["command"] == ["tradedeck", "watchdog"]
    assert "app" not in services["watchdog"].get("depends_on", {})
    for name in ("app", "watchdog"):
        env = services[name]["environment"]
        assert env["TRADEDECK_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["TRADEDECK_REDIS_URL"] == "redis://redis:6379/0"


@pytest.mark.parametrize("name", ["app", "watchdog", "postgres", "redis"])
def test_every_compose_service_restarts_is_checked_limited_and_rotates_logs(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["restart"] == "unless-stopped"
    check = service["healthcheck"]
    assert check["test"] and check["interval"] and check["retries"] >= 1
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0 and limits["memory"]
    logging = service["logging"]
    assert logging["driver"] == "json-file"
    assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 1


def test_the_watchdog_health_check_is_its_status_command(compose: dict[str, Any]) -> None:
    assert compose["services"]["watchdog"]["healthcheck"]["test"] == [
        "CMD",
        "tradedeck",
        "watchdog",
        "--status",
    ]


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users == ["tradedeck"]
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert lines[-1].startswith("CMD ") and '"run"' in lines[-1]

"""deploy/compose: valid against the Compose specification, healthy ordering, no secrets."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import REPO, ok, run

COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
SCHEMA = json.loads((Path(__file__).with_name("schemas") / "compose-spec.json").read_text())
ONE_SHOTS = {"migrate", "temporal-setup"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_check_can_fail() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "when_ready"
    broken["services"]["worker"]["stop_grace_period"] = {"seconds": 45}
    errors = schema_errors(broken)
    assert len(errors) == 2, errors


def test_every_service_is_health_checked_and_waits_on_conditions() -> None:
    services = compose()["services"]
    assert set(services) >= {
        "postgres", "temporal", "temporal-ui", "temporal-setup", "migrate", "api", "proxy",
        "worker", "unleash", "prometheus", "grafana", "otel-collector",
    }  # fmt: skip
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            assert name in ONE_SHOTS, name
            assert service["restart"] == "no", name
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            wanted = "service_completed_successfully" if target in ONE_SHOTS else "service_healthy"
            assert rule["condition"] == wanted, f"{name} -> {target}"
    for name in ("api", "worker"):
        assert {"migrate", "temporal-setup"} <= set(services[name]["depends_on"]), name


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, value
    return float(match.group(1))


def test_api_replicas_behind_a_timeout_enforcing_proxy_and_workers_that_drain() -> None:
    services = compose()["services"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert "ports" not in services["api"], "only the proxy is published"
    assert "ports" not in services["worker"]
    assert "container_name" not in services["worker"]
    nginx = (COMPOSE_DIR / "nginx.conf").read_text()
    for directive in ("proxy_read_timeout 30s", "proxy_connect_timeout", "client_body_timeout"):
        assert directive in nginx
    assert "set $api http://api:8000" in nginx, "re-resolves the replicas"
    drain = float(services["worker"]["environment"]["TREEFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    assert seconds(services["worker"]["stop_grace_period"]) > drain
    assert services["api"]["environment"]["TREEFLOW_MIGRATE_ON_STARTUP"] == "false"


def test_mounted_files_exist_and_the_rules_are_the_repository_rules() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"
    mounts = services["prometheus"]["volumes"]
    assert "../prometheus/alerts.yml:/etc/prometheus/rules/alerts.yml:ro" in mounts
    assert "../grafana:/var/lib/grafana/dashboards:ro" in services["grafana"]["volumes"]


def test_secrets_come_from_an_uncommitted_env_file_with_a_committed_example() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {"POSTGRES_PASSWORD", "TREEFLOW_JWT_SIGNING_KEYS", "TREEFLOW_SECRET_KEYS"} <= required
    example = (COMPOSE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert required <= documented, required - documented
    ignored = run("git", "check-ignore", "-q", "deploy/compose/.env")
    assert ignored.returncode == 0, "deploy/compose/.env must be git-ignored"
    assert "CHANGE-ME" in example
    assert "dev-only" not in text


def test_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    promtool = os.environ.get("TREEFLOW_TEST_PROMTOOL_BIN", "")
    if not promtool:
        pytest.fail('TREEFLOW_TEST_PROMTOOL_BIN unset: eval "$(scripts/services.sh env)"')
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(COMPOSE_DIR / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_yaml_files_pass_yamllint(deploy_tools: dict[str, Path]) -> None:
    files = [*COMPOSE_DIR.rglob("*.yaml"), *COMPOSE_DIR.rglob("*.yml")]
    ok(run(deploy_tools["yamllint"], "--strict", "-c", REPO / ".yamllint.yaml", *files))

"""deploy/helm/treeflow validated offline: helm lint/template, Kubernetes and CRD schemas,
checkov, yamllint, and the properties the chart promises (pod security, drain, scaling)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import REPO, ok, run

CHART = REPO / "deploy" / "helm" / "treeflow"
SCHEMAS = Path(__file__).with_name("schemas")
KUBERNETES_VERSION = "1.33.0"  # the kubectl the chart's tools ship; Chart.yaml: >=1.27
NAMESPACE = "treeflow"
KEDA = "keda.sh/v1alpha1"
PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentication_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
}
# Checkov checks the chart skips on purpose; the reason is in the skip annotation
# (templates/_helpers.tpl, treeflow.checkovSkips) and is asserted to be there.
EXPLAINED_SKIPS = {"CKV_K8S_35", "CKV_K8S_43"}


@dataclass(frozen=True)
class Variant:
    """One `helm template` run: a values file and the API groups the cluster serves."""

    name: str
    values: str | None
    api_versions: tuple[str, ...] = ()


VARIANTS = [
    Variant("default", None),
    Variant("dev", "values-dev.yaml"),
    Variant("staging", "values-staging.yaml"),
    Variant("staging-keda", "values-staging.yaml", (KEDA, PROMETHEUS_OPERATOR)),
    Variant("prod", "values-prod.yaml", (KEDA, PROMETHEUS_OPERATOR)),
]


def helm_args(variant: Variant) -> list[str]:
    args = [] if variant.values is None else ["-f", str(CHART / variant.values)]
    for api in variant.api_versions:
        args += ["--api-versions", api]
    return args


@pytest.fixture(scope="session")
def rendered(
    deploy_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each variant rendered once into a file (checkov and yamllint read the files)."""
    out = tmp_path_factory.mktemp("rendered")
    files = {}
    for variant in VARIANTS:
        text = ok(
            run(deploy_tools["helm"], "template", "treeflow", CHART, "-n", NAMESPACE,
                *helm_args(variant))
        )  # fmt: skip
        files[variant.name] = out / f"{variant.name}.yaml"
        files[variant.name].write_text(text)
    return files


def objects(rendered: dict[str, Path], name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered[name].read_text()) if doc]


def one(docs: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    return found


def kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {f"{d['kind']}/{d['metadata']['name'].removeprefix('treeflow-')}" for d in docs}


@pytest.mark.parametrize(
    "values", ["values.yaml", "values-dev.yaml", "values-staging.yaml", "values-prod.yaml"]
)
def test_helm_lint_is_clean(deploy_tools: dict[str, Path], values: str) -> None:
    output = ok(run(deploy_tools["helm"], "lint", "--strict", CHART, "-f", CHART / values))
    assert "0 chart(s) failed" in output


def schema_problems(doc: dict[str, Any]) -> list[str]:
    """Strict Kubernetes schema for built-in kinds, the vendored CRD schema otherwise."""
    crd = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if crd is not None:
        validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / crd).read_text()))
        return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{list(exc.path)}: {exc.message}"]
    return []


@pytest.mark.parametrize("variant", [v.name for v in VARIANTS])
def test_every_rendered_object_matches_its_schema(rendered: dict[str, Path], variant: str) -> None:
    docs = objects(rendered, variant)
    assert len(docs) >= 12
    problems = {f"{d['kind']}/{d['metadata']['name']}": schema_problems(d) for d in docs}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_schema_checks_can_fail(rendered: dict[str, Path]) -> None:
    docs = objects(rendered, "prod")
    deployment = one(docs, "Deployment", "-api")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["pth"] = "/readyz"  # a typo strict validation must refuse
    assert schema_problems(deployment) != []
    scaled = one(docs, "ScaledObject")
    del scaled["spec"]["triggers"][0]["type"]
    assert schema_problems(scaled) != []
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({**deployment, "kind": "Deploymnt"}, KUBERNETES_VERSION)


@pytest.fixture(scope="session")
def checkov_report(
    deploy_tools: dict[str, Path],
    rendered: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One checkov run over every rendered variant plus a canary that must fail."""
    folder = tmp_path_factory.mktemp("checkov")
    for name, path in rendered.items():
        (folder / f"{name}.yaml").write_text(path.read_text())
    (folder / "canary.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: canary, namespace: x}\n"
        "spec:\n  containers:\n    - name: c\n      image: busybox:1.36\n"
        "      securityContext: {privileged: true}\n"
    )
    result = run(
        deploy_tools["checkov"], "-d", folder, "--framework", "kubernetes", "--skip-download",
        "--quiet", "-o", "json", timeout=900,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_checkov_finds_nothing_unexplained(checkov_report: dict[str, Any]) -> None:
    results = checkov_report["results"]
    failed = [
        f"{c['check_id']} {c['resource']} ({Path(c['file_path']).name})"
        for c in results["failed_checks"]
        if not c["file_path"].endswith("canary.yaml")
    ]
    assert failed == []
    skipped = results.get("skipped_checks", [])
    assert {c["check_id"] for c in skipped} <= EXPLAINED_SKIPS
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_checkov_does_check(checkov_report: dict[str, Any]) -> None:
    canary = {
        c["check_id"]
        for c in checkov_report["results"]["failed_checks"]
        if c["file_path"].endswith("canary.yaml")
    }
    assert "CKV_K8S_16" in canary, "a privileged container must fail"
    assert checkov_report["summary"]["passed"] > 300


def test_yamllint_on_values_and_rendered_output(
    deploy_tools: dict[str, Path], rendered: dict[str, Path], tmp_path: Path
) -> None:
    ok(run(deploy_tools["yamllint"], "--strict", "-c", REPO / ".yamllint.yaml",
           CHART / "Chart.yaml", *CHART.glob("values*.yaml")))  # fmt: skip
    config = yaml.safe_load((REPO / ".yamllint.yaml").read_text())
    config["rules"]["line-length"] = "disable"  # generated annotations, embedded dashboard
    relaxed = tmp_path / "yamllint.yaml"
    relaxed.write_text(yaml.safe_dump(config))
    ok(run(deploy_tools["yamllint"], "--strict", "-c", relaxed, *rendered.values()))


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("variant", [v.name for v in VARIANTS])
def test_every_pod_is_locked_down_and_sized(rendered: dict[str, Path], variant: str) -> None:
    docs = objects(rendered, variant)
    specs = dict(pod_specs(docs))
    assert len(specs) == 3  # api, worker, migrations
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are existingSecret refs"


@pytest.mark.parametrize("variant", [v.name for v in VARIANTS])
def test_secrets_are_references_to_existing_secrets(
    rendered: dict[str, Path], variant: str
) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    allowed = {values["secrets"]["existingSecret"], "treeflow-temporal"}
    for name, spec in pod_specs(objects(rendered, variant)):
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        for variable in (
            "TREEFLOW_DATABASE_URL",
            "TREEFLOW_JWT_SIGNING_KEYS",
            "TREEFLOW_SECRET_KEYS",
        ):
            assert "value" not in env[variable], f"{name}: {variable} must come from a Secret"
            assert env[variable]["valueFrom"]["secretKeyRef"]["name"] in allowed


@pytest.mark.parametrize("variant", [v.name for v in VARIANTS])
def test_workers_outlast_their_drain(rendered: dict[str, Path], variant: str) -> None:
    docs = objects(rendered, variant)
    config = one(docs, "ConfigMap", "treeflow")["data"]
    worker = one(docs, "Deployment", "-worker")["spec"]["template"]["spec"]
    drain = float(config["TREEFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    assert worker["terminationGracePeriodSeconds"] > drain
    probes = worker["containers"][0]
    assert probes["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert probes["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert "PodDisruptionBudget/worker" in kinds(docs)


def test_worker_autoscaling_follows_the_cluster(rendered: dict[str, Path]) -> None:
    prod = objects(rendered, "prod")
    scaled = one(prod, "ScaledObject")
    temporal = next(t for t in scaled["spec"]["triggers"] if t["type"] == "temporal")
    config = one(prod, "ConfigMap", "treeflow")["data"]
    assert temporal["metadata"]["taskQueue"] == config["TREEFLOW_TEMPORAL_TASK_QUEUE"]
    assert temporal["metadata"]["endpoint"] == config["TREEFLOW_TEMPORAL_ADDRESS"]
    assert (
        temporal["authenticationRef"]["name"]
        == one(prod, "TriggerAuthentication")["metadata"]["name"]
    )
    assert {t["type"] for t in scaled["spec"]["triggers"]} == {"temporal", "cpu"}
    assert "HorizontalPodAutoscaler/worker" not in kinds(prod), "KEDA owns the worker HPA"
    assert "replicas" not in one(prod, "Deployment", "-worker")["spec"]

    without_keda = kinds(objects(rendered, "staging"))
    assert "HorizontalPodAutoscaler/worker" in without_keda
    assert "ScaledObject/worker" not in without_keda
    assert "ScaledObject/worker" in kinds(objects(rendered, "staging-keda"))

    dev = objects(rendered, "dev")
    assert not {"ScaledObject/worker", "HorizontalPodAutoscaler/worker"} & kinds(dev)
    assert one(dev, "Deployment", "-worker")["spec"]["replicas"] == 1


def test_api_is_served_over_tls_with_probes_hpa_and_pdb(rendered: dict[str, Path]) -> None:
    docs = objects(rendered, "prod")
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "treeflow-tls"
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    api = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"HorizontalPodAutoscaler/api", "PodDisruptionBudget/api", "Service/api"} <= kinds(docs)
    assert one(docs, "ConfigMap", "treeflow")["data"]["TREEFLOW_MIGRATE_ON_STARTUP"] == "false"


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(rendered: dict[str, Path]) -> None:
    job = one(objects(rendered, "prod"), "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["admin", "migrate"]
    env = {e["name"] for e in container["env"]}
    assert {"TREEFLOW_DATABASE_URL", "TREEFLOW_DEV_MODE", "TREEFLOW_ALLOW_DEV_DEFAULTS"} <= env
    assert "envFrom" not in container, "hooks run before the release's ConfigMap exists"


def test_network_policies_cover_every_pod(rendered: dict[str, Path]) -> None:
    docs = objects(rendered, "prod")
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    selected = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in policies
    }
    for name, _spec in pod_specs(docs):
        owner = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == name)
        component = owner["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        assert component in selected, name
    worker = next(p for p in policies if p["metadata"]["name"].endswith("-worker"))
    ports = {port["port"] for rule in worker["spec"]["ingress"] for port in rule["ports"]}
    assert ports == {9464, 9465}, "only Prometheus, only the metrics ports"


def test_alert_rules_and_dashboard_have_one_source(
    rendered: dict[str, Path], deploy_tools: dict[str, Path], tmp_path: Path
) -> None:
    rules_file = REPO / "deploy" / "prometheus" / "alerts.yml"
    dashboard_file = REPO / "deploy" / "grafana" / "treeflow-dashboard.json"
    assert (CHART / "files" / "alerts.yml").resolve() == rules_file
    assert (CHART / "files" / "treeflow-dashboard.json").resolve() == dashboard_file
    docs = objects(rendered, "prod")
    rule = one(docs, "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(rules_file.read_text())["groups"]
    dashboard = one(docs, "ConfigMap", "-dashboard")
    assert json.loads(dashboard["data"]["treeflow-dashboard.json"]) == json.loads(
        dashboard_file.read_text()
    )
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    # `helm package` stores what the symlinks point to, so the published chart has them.
    ok(run(deploy_tools["helm"], "package", CHART, "-d", tmp_path))
    [package] = tmp_path.glob("treeflow-*.tgz")
    with tarfile.open(package) as archive:
        packaged = archive.extractfile("treeflow/files/alerts.yml")
        assert packaged is not None
        assert packaged.read() == rules_file.read_bytes()


def test_service_monitor_scrapes_api_and_both_worker_ports(rendered: dict[str, Path]) -> None:
    monitor = one(objects(rendered, "prod"), "ServiceMonitor")
    jobs = {
        relabel["replacement"]
        for endpoint in monitor["spec"]["endpoints"]
        for relabel in endpoint["relabelings"]
        if relabel.get("targetLabel") == "job"
    }
    # the job names the alert rules and the dashboard query
    assert jobs == {"treeflow-api", "treeflow-worker", "treeflow-worker-temporal"}
    assert "ServiceMonitor/treeflow" not in kinds(objects(rendered, "default"))  # auto, no operator

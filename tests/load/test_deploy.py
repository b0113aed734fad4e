"""load/deploy/: the Kubernetes manifests and the compose file are valid and fit together.

The manifests are checked against the Kubernetes OpenAPI schemas that ``kubernetes-validate`` bundles
(offline, strict: unknown fields fail), then for what the harness needs of them: a master that binds
and expects as many workers as the Deployment runs, workers pointed at the master's Service.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness.server import free_port
from tests.load.test_cluster import RUN_TIMEOUT_S, Proc, procs, results, run_argv, stub_url

__all__ = ["procs", "stub_url"]  # fixtures shared with test_cluster

DEPLOY = Path(__file__).resolve().parents[2] / "load" / "deploy"
K8S_VERSION = "1.30.0"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> dict[str, dict[str, Any]]:
    docs = [d for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in documents(path)]
    return {d["kind"]: d for d in docs}


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("path", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_manifests_validate_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_can_fail() -> None:
    job = manifests()["Job"]
    broken = {**job, "spec": {**job["spec"], "backofLimit": 0}}  # a typo strict validation must catch
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_master_job_and_worker_deployment_fit_together() -> None:
    m = manifests()
    assert set(m) >= {"Job", "Deployment", "Service", "ConfigMap"}
    master = m["Job"]["spec"]["template"]["spec"]
    assert master["restartPolicy"] == "Never"
    assert m["Job"]["spec"]["backoffLimit"] == 0  # an invalid run (exit 3) is a result, not retried
    (mc,) = master["containers"]
    args = mc["args"]
    assert args[:2] == ["load", "run"]
    bind_host, bind_port = flag(args, "--master-bind").rsplit(":", 1)
    assert bind_host == "0.0.0.0"  # noqa: S104 - the master must be reachable from the worker pods
    assert {"containerPort": int(bind_port)}.items() <= mc["ports"][0].items()
    assert "--remote-target" in args  # the arms are services elsewhere in the cluster

    deployment = m["Deployment"]["spec"]
    workers = int(flag(args, "--expect-workers"))
    assert deployment["replicas"] == workers
    assert 1 <= int(flag(args, "--min-workers")) <= workers
    (wc,) = deployment["template"]["spec"]["containers"]
    assert wc["args"][:3] == ["load", "worker", "--master"]
    service = m["Service"]
    assert wc["args"][3] == f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    assert service["spec"]["selector"].items() <= m["Job"]["spec"]["template"]["metadata"]["labels"].items()
    assert wc["image"] == mc["image"]  # versions must match, or the master refuses the workers
    assert wc["resources"]["limits"]["cpu"] == "1"  # one Locust process uses at most one core

    configmap = m["ConfigMap"]
    locustfile = flag(args, "-f")
    mount = next(v for v in mc["volumeMounts"] if locustfile.startswith(v["mountPath"] + "/"))
    volume = next(v for v in master["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    compile(configmap["data"][Path(locustfile).name], locustfile, "exec")


def test_compose_file_runs_harness_workers() -> None:
    (doc,) = documents(DEPLOY / "docker-compose.yml")
    worker = doc["services"]["worker"]
    assert worker["command"][:3] == ["load", "worker", "--master"]
    assert "replicas" not in worker.get("deploy", {})  # N comes from --scale worker=N
    assert worker["network_mode"].endswith(":-host}")  # workers reach loopback masters and targets
    assert worker["image"].endswith(":-fastapi-harness:local}")  # what load.deploy.image builds


def compose_cli() -> str:
    """docker-compose, installed from Debian's packages where it is missing (as the harness does for Docker)."""
    from harness.containers.engine import apt_install

    found = shutil.which("docker-compose")
    if found is None:
        apt_install(["docker-compose"], lambda _line: None)
        found = shutil.which("docker-compose")
    assert found is not None, "docker-compose could not be installed (apt-get install docker-compose)"
    return found


# -- the image, built here, with workers in containers --------------------------------------------


@pytest.fixture(scope="module")
def harness_image() -> str:
    from load.deploy.image import build

    return build("harness", "fastapi-harness:test")


def _docker(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


@pytest.mark.integration
@pytest.mark.slow
def test_worker_containers_join_a_master_on_the_host(harness_image: str, stub_url: str, tmp_path: Path,
                                                     procs: list[Proc]) -> None:
    import uuid

    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "2", "--worker-timeout", "180",
                        rounds=1, seconds=2.0), tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    names = [f"harness-worker-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        for name in names:
            done = _docker("run", "-d", "--rm", "--name", name, "--network", "host", harness_image,
                           "load", "worker", "--master", f"127.0.0.1:{port}")
            assert done.returncode == 0, done.stderr
        assert run.wait(RUN_TIMEOUT_S) == 0, run.output()
    finally:
        for name in names:
            _docker("rm", "-f", name)
    rounds = results(tmp_path / "out")["rounds"]
    assert all(len(r["workers"]) == 2 and r["requests"] > 0 for r in rounds)


@pytest.mark.integration
@pytest.mark.slow
def test_compose_workers_join_a_master_on_the_host(harness_image: str, stub_url: str, tmp_path: Path,
                                                   procs: list[Proc]) -> None:
    import uuid

    compose = compose_cli()
    done = subprocess.run([compose, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr  # compose's own schema check
    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "2", "--worker-timeout", "180",
                        rounds=1, seconds=2.0), tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    project = f"harness-test-{uuid.uuid4().hex[:8]}"
    env = {"HARNESS_IMAGE": harness_image, "HARNESS_MASTER": f"127.0.0.1:{port}"}
    base = [compose, "-p", project, "-f", str(DEPLOY / "docker-compose.yml")]
    import os

    try:
        up = subprocess.run([*base, "up", "-d", "--scale", "worker=2"], capture_output=True, text=True,
                            timeout=300, check=False, env={**os.environ, **env})
        assert up.returncode == 0, up.stderr
        assert run.wait(RUN_TIMEOUT_S) == 0, run.output()
    finally:
        subprocess.run([*base, "down", "--timeout", "5"], capture_output=True, timeout=300, check=False,
                       env={**os.environ, **env})
    rounds = results(tmp_path / "out")["rounds"]
    assert all(len(r["workers"]) == 2 for r in rounds)

"""load.rounds.LoadDriver against a stub ASGI app: one long-lived Locust process, several rounds,
arm options switched per round, and no process left behind (even when start-up fails)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from harness.exitcodes import HarnessError
from harness.server import ServerConfig, ServerProcess
from load.rounds import LoadDriver, RoundError, RoundSpec
from tests.utils.stub_asgi import write_stub_app

pytestmark = pytest.mark.slow
PROFILES = Path(__file__).resolve().parents[2] / "load" / "profiles"



@pytest.fixture
def stub_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = ServerConfig(app=write_stub_app(tmp_path, "stub_driver_app"), cwd=tmp_path, migrate_cmd=None,
                       ready_timeout_s=30)
    with ServerProcess(cfg, log_path=tmp_path / "server.log") as srv:
        yield srv


def test_rounds_reuse_one_process_and_switch_arms(stub_server: ServerProcess, tmp_path: Path) -> None:
    progress: list[float] = []
    with LoadDriver(PROFILES / "io_bound.py", log_path=tmp_path / "locust.log") as driver:
        pids = driver.pids()
        results = []
        for arm in ("sync", "async"):
            spec = RoundSpec(host=stub_server.base_url, users=3, seconds=1.0,
                             options={"HARNESS_ARM": arm, "HARNESS_IO_MS": "10"})
            results.append(driver.run(spec, server_pids=stub_server.all_pids,
                                      on_progress=lambda e: progress.append(e["rps"])))
        assert driver.pids() == pids  # same Locust process for every round
    assert list(results[0]["by_name"]) == ["GET io-sync"]
    assert list(results[1]["by_name"]) == ["GET io-async"]
    for res in results:
        assert res["total"]["requests"] > 0
        assert res["total"]["failures"] == 0
        assert set(res["total"]["percentiles_ms"]) == {"0.5", "0.75", "0.9", "0.95", "0.99", "0.999"}
        assert res["generator_cpu_percent"] >= 0.0
        assert res["server_rss_mb"] > 0.0
    assert progress
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_failed_start_leaves_nothing_behind(tmp_path: Path) -> None:
    empty = tmp_path / "empty_profile.py"
    empty.write_text("X = 1\n")
    driver = LoadDriver(empty, log_path=tmp_path / "locust.log", start_timeout_s=60)
    with pytest.raises(RoundError, match="no User class"):
        driver.start()
    assert driver.pids() == []


def test_non_loopback_targets_are_refused(tmp_path: Path) -> None:
    driver = LoadDriver(PROFILES / "hello.py", log_path=tmp_path / "locust.log")
    with pytest.raises(HarnessError, match="non-loopback") as err:
        driver.run(RoundSpec(host="http://example.com", users=1, seconds=1), server_pids=list)
    assert err.value.exit_code == 2

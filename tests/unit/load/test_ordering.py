"""Round ordering, A/A arms and server sharing (load.experiment)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.exitcodes import HarnessError
from harness.target import load_target
from load.experiment import aa_variant, adhoc, from_target, get_experiment, parse_arm, round_order, server_key

ROOT = Path(__file__).resolve().parents[3]
TARGET = load_target(ROOT)  # this repository's [tool.harness]: the reference app's experiments
EXPERIMENTS = from_target(TARGET)
PROFILES = ROOT / "load" / "profiles"


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES.glob("*.py") if not p.stem.startswith("_"))


def test_abba_alternates_blocks() -> None:
    assert round_order(["A", "B"], 3) == ["A", "B", "B", "A", "A", "B"]


def test_abba_with_three_arms_reverses_every_other_block() -> None:
    assert round_order(["A", "B", "C"], 2) == ["A", "B", "C", "C", "B", "A"]


@pytest.mark.parametrize("method", ["abba", "random"])
@pytest.mark.parametrize("rounds", [1, 2, 5])
def test_every_arm_gets_exactly_its_rounds(method: str, rounds: int) -> None:
    order = round_order(["x", "y", "z"], rounds, seed=7, method=method)  # type: ignore[arg-type]
    assert Counter(order) == {"x": rounds, "y": rounds, "z": rounds}
    # Blocked: every consecutive block of 3 holds each arm once.
    for i in range(0, len(order), 3):
        assert sorted(order[i:i + 3]) == ["x", "y", "z"]


def test_random_order_is_seeded() -> None:
    a = round_order(["a", "b", "c", "d"], 6, seed=1, method="random")
    assert a == round_order(["a", "b", "c", "d"], 6, seed=1, method="random")
    assert a != round_order(["a", "b", "c", "d"], 6, seed=2, method="random")


def test_abba_balances_positions() -> None:
    order = round_order(["A", "B"], 4)
    pos = {arm: sum(i for i, x in enumerate(order) if x == arm) for arm in "AB"}
    assert pos["A"] == pos["B"]  # mean position equal: linear drift cancels


@pytest.mark.parametrize(("arms", "rounds"), [([], 2), (["a", "a"], 2), (["a"], 0)])
def test_round_order_rejects_bad_input(arms: list[str], rounds: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        round_order(arms, rounds)


def test_aa_duplicates_the_treatment_arm() -> None:
    exp = aa_variant(EXPERIMENTS["io"])
    assert [a.name for a in exp.arms] == ["io_async", "io_async_b"]
    a, b = exp.arms
    assert a.profile_env == b.profile_env
    assert a.app_env == b.app_env
    assert a.bound == b.bound


def test_aa_of_single_arm_experiment() -> None:
    assert [a.name for a in aa_variant(EXPERIMENTS["journey"]).arms] == ["journey", "journey_b"]


def test_arms_with_equal_server_config_share_a_key() -> None:
    io = EXPERIMENTS["io"]
    keys = {server_key(a, "uvicorn", 2, io.app_env) for a in io.arms}
    assert len(keys) == 1
    mw = EXPERIMENTS["middleware"]
    assert len({server_key(a, "uvicorn", 2, mw.app_env) for a in mw.arms}) == 2
    srv = EXPERIMENTS["server"]
    kinds = sorted(server_key(a, "uvicorn", 2, srv.app_env)[:2] for a in srv.arms)
    assert kinds == [("gunicorn", 2), ("uvicorn", 1)]


def test_required_experiments_and_profiles_exist() -> None:
    assert {"io", "cache", "ratelimit", "middleware", "server", "journey"} <= set(EXPERIMENTS)
    assert {"io_bound", "cache", "ratelimit", "journey", "shapes", "hello"} <= set(profile_names())
    for exp in EXPERIMENTS.values():
        for arm in exp.arms:
            assert arm.locustfile.is_file(), arm.locustfile


def test_unknown_experiment_is_a_usage_error() -> None:
    with pytest.raises(HarnessError) as err:
        get_experiment(TARGET, "nope")
    assert err.value.exit_code == 2
    assert "io" in str(err.value)  # names what is configured


def test_arms_from_the_command_line() -> None:
    assert parse_arm("a=http://127.0.0.1:8000/") == ("a", "http://127.0.0.1:8000", {})
    assert parse_arm("fast:FEATURE=on,LEVEL=2") == ("fast", None, {"FEATURE": "on", "LEVEL": "2"})
    assert parse_arm("plain") == ("plain", None, {})
    for bad in ("=http://x", "a:NOVALUE", "a b:X=1"):
        with pytest.raises(HarnessError):
            parse_arm(bad)
    exp = adhoc(Path("lf.py"), ["a=http://127.0.0.1:1", "b=http://127.0.0.1:2"])
    assert [(a.name, a.url) for a in exp.arms] == [("a", "http://127.0.0.1:1"), ("b", "http://127.0.0.1:2")]
    with pytest.raises(HarnessError, match="unique"):
        adhoc(Path("lf.py"), ["a=http://127.0.0.1:1", "a=http://127.0.0.1:2"])
    with pytest.raises(HarnessError, match="mix"):
        adhoc(Path("lf.py"), ["a=http://127.0.0.1:1", "b:X=1"])
    with pytest.raises(HarnessError, match="--arm"):
        adhoc(Path("lf.py"), [])


def test_profile_names_do_not_shadow_importable_modules() -> None:
    """Locust imports a locustfile as a top-level module named after its stem (sys.modules[stem]),
    so a profile called e.g. ``io.py`` would replace the standard library's ``io``."""
    import importlib.util

    for stem in profile_names():
        assert importlib.util.find_spec(stem) is None, f"load/profiles/{stem}.py shadows a module"

"""Which side reuses the current environment and which gets its own venv."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import sideenv
from harness.exitcodes import HarnessError


def _project(path: Path, pyproject: str, **files: str) -> Path:
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(pyproject)
    for name, text in files.items():
        (path / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (path / name.replace("__", "/")).write_text(text)
    return path


PYPROJECT = '[project]\nname = "svc"\nversion = "1"\ndependencies = ["fastapi"]\n'


def test_identical_dependency_files_reuse(tmp_path: Path) -> None:
    a = _project(tmp_path / "a", PYPROJECT, **{"requirements.txt": "fastapi==1\n", "uv.lock": "x"})
    b = _project(tmp_path / "b", PYPROJECT, **{"requirements.txt": "fastapi==1\n", "uv.lock": "x"})
    assert sideenv.differing_files(a, b) == []
    env = sideenv.side_env(a, b, "/usr/bin/python3", venv=tmp_path / "v", server="uvicorn", log=tmp_path / "log")
    assert env.reused
    assert env.python == "/usr/bin/python3"
    assert not (tmp_path / "v").exists()


def test_harness_settings_are_not_dependencies(tmp_path: Path) -> None:
    a = _project(tmp_path / "a", PYPROJECT + '[tool.harness]\napp = "m:app"\n')
    b = _project(tmp_path / "b", PYPROJECT + '[tool.harness]\napp = "m:create_app"\n')
    assert sideenv.differing_files(a, b) == []
    c = _project(tmp_path / "c", PYPROJECT.replace('["fastapi"]', '["fastapi", "httpx"]'))
    assert sideenv.differing_files(a, c) == ["pyproject.toml"]


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-prod.txt", "poetry.lock", "uv.lock",
                                  "constraints.txt", "requirements__base.txt"])
def test_any_changed_or_added_lock_file_differs(tmp_path: Path, name: str) -> None:
    a = _project(tmp_path / "a", PYPROJECT)
    b = _project(tmp_path / "b", PYPROJECT, **{name: "pinned==1\n"})
    assert sideenv.differing_files(a, b) == [name.replace("__", "/")]


def test_differing_files_build_a_venv_with_uv_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _project(tmp_path / "a", PYPROJECT, **{"requirements.txt": "fastapi==2\n"})
    _project(tmp_path / "b", PYPROJECT, **{"requirements.txt": "fastapi==1\n"})
    calls: list[list[str]] = []
    monkeypatch.setattr(sideenv, "_run", lambda argv, cwd, log: calls.append(argv))
    env = sideenv.build_venv(a, tmp_path / "v", base_python="/py", server="uvicorn", log=tmp_path / "log",
                             which=lambda name: "/bin/uv" if name == "uv" else None)
    assert not env.reused
    assert env.python == str(tmp_path / "v" / "bin" / "python")
    assert calls[0][:2] == ["/bin/uv", "venv"]
    assert calls[1][:3] == ["/bin/uv", "pip", "install"]
    assert calls[1][-3:] == ["-r", "requirements.txt", "uvicorn"]
    assert "uv" in env.how
    calls.clear()
    env = sideenv.build_venv(a, tmp_path / "v", base_python="/py", server="gunicorn", log=tmp_path / "log",
                             which=lambda name: None)
    assert calls[0] == ["/py", "-m", "venv", str(tmp_path / "v")]
    assert calls[1][:4] == [str(tmp_path / "v" / "bin" / "python"), "-m", "pip", "install"]
    assert calls[1][-3:] == ["-r", "requirements.txt", "gunicorn"]
    assert "pip" in env.how


def test_a_project_without_requirements_installs_itself(tmp_path: Path) -> None:
    a = _project(tmp_path / "a", PYPROJECT)
    assert sideenv.install_args(a) == ["."]
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "Pipfile").write_text("")
    with pytest.raises(HarnessError, match="no requirements"):
        sideenv.install_args(bare)


def test_a_failing_install_says_where_its_log_is(tmp_path: Path) -> None:
    log = tmp_path / "env.log"
    with pytest.raises(HarnessError, match="building an environment failed") as info:
        sideenv._run(["python3", "-c", "import sys; print('resolver says no'); sys.exit(4)"], tmp_path, log)
    assert "resolver says no" in str(info.value)
    assert info.value.exit_code == 3

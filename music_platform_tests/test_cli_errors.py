"""The CLI's answers to bad settings: one line naming the setting, never a traceback."""

from __future__ import annotations

from pathlib import Path

from music_platform_tests.support.platform_env import platform_environment, run_cli


def test_bad_environment_gets_a_one_line_error(tmp_path: Path) -> None:
    completed = run_cli("run", env={"MUSIC_PLATFORM_ENV": "staging"}, cwd=tmp_path)
    assert completed.returncode == 2
    assert "MUSIC_PLATFORM_ENV='staging'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unreachable_database_gets_a_one_line_error(tmp_path: Path) -> None:
    env = platform_environment(tmp_path / "home", "dev", POSTGRES_PORT="1")
    completed = run_cli("run", env=env, cwd=tmp_path)
    assert completed.returncode == 2
    assert "PostgreSQL at postgres@127.0.0.1:1/" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unwritable_home_gets_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    completed = run_cli("run", env=platform_environment(blocker / "home"), cwd=tmp_path)
    assert completed.returncode == 2
    assert "MUSIC_PLATFORM_HOME" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_day_range_outside_the_partitions_gets_a_one_line_error(tmp_path: Path) -> None:
    env = platform_environment(tmp_path / "home")
    completed = run_cli("run", "--from", "2023-12-30", "--to", "2024-01-02", env=env, cwd=tmp_path)
    assert completed.returncode == 2
    assert "--from 2023-12-30 is before the first partition 2024-01-01" in completed.stderr
    assert "Traceback" not in completed.stderr
    backwards = run_cli("run", "--from", "2024-02-02", "--to", "2024-02-01", env=env, cwd=tmp_path)
    assert backwards.returncode == 2
    assert "--from 2024-02-02 is after --to 2024-02-01" in backwards.stderr
    both = run_cli("run", "--days", "2", "--from", "2024-02-01", env=env, cwd=tmp_path)
    assert both.returncode == 2
    assert "either --days or --from/--to" in both.stderr

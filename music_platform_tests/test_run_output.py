"""What `music-platform run` prints: the live view, the summary and the log's path; dbt's and
Dagster's logs go to the log file, and to the terminal only for a failed step or --verbose."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from music_platform_tests.support.platform_env import platform_environment, run_cli

pytestmark = pytest.mark.slow

# Lines only dbt's or Dagster's own logs print.
LOG_LINE = re.compile(r"Running with dbt=| - dagster - |START (test|sql)|Registered adapter")


def _log_path(output: str) -> Path:
    found = re.search(r"^log: (\S+)$", output, re.MULTILINE)
    assert found, f"no log path in:\n{output}"
    return Path(found[1])


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    home = tmp_path_factory.mktemp("clean")
    completed = run_cli("run", "--days", "2", env=platform_environment(home / "home"), cwd=home)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def test_a_clean_run_prints_asset_lines_and_the_summary_but_no_logs(
    clean_run: subprocess.CompletedProcess[str],
) -> None:
    output = clean_run.stdout + clean_run.stderr
    assert re.search(r"^✓ fct_listens\s+2 days\s+[\d,]+ rows\s+\d+ checks passed", output, re.M)
    assert re.search(r"^✓ staging/staged_listens\s+2 days", output, re.MULTILINE)
    assert "music-platform run (local)" in clean_run.stdout  # the summary table
    assert not LOG_LINE.search(output), output
    assert "WARNING" not in output and "Warning" not in output, output


def test_the_log_file_holds_dbt_and_dagster_logs(
    clean_run: subprocess.CompletedProcess[str],
) -> None:
    log = _log_path(clean_run.stderr).read_text()
    assert "Running with dbt=" in log
    assert " - dagster - DEBUG - " in log and "STEP_SUCCESS" in log
    # Every source test runs as a check on its landing asset, not as a stray observation.
    assert not re.search(r"AssetObservation` instead of an `AssetCheckResult` .*`source_", log)


def test_a_failed_step_shows_its_last_lines(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = platform_environment(home)
    assert run_cli("prepare", env=env, cwd=tmp_path).returncode == 0
    # dbt finds no profile here, so the first dbt step fails after the loads succeed.
    env["DBT_PROFILES_DIR"] = str(tmp_path)
    completed = run_cli("run", "--days", "1", env=env, cwd=tmp_path)
    assert completed.returncode == 1
    assert "step dbt_catalogue_models failed" in completed.stderr
    tail = completed.stderr.split("last lines of dbt_catalogue_models:", 1)[1]
    assert "music_platform" in tail and "profile" in tail.lower(), completed.stderr
    assert "Running with dbt=" not in completed.stderr.split("last lines of", 1)[0]
    assert _log_path(completed.stderr).exists()

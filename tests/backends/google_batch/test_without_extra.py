"""Without the ``gcp`` extra: a dry run still plans, anything else is one line and a config error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")

# Run the CLI in a Python where no "google" package can be imported (as without the extra).
NO_GOOGLE = """
import sys
class NoGoogle:
    def find_spec(self, name, path=None, target=None):
        if name == "google" or name.startswith("google."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoGoogle())
from offbatch.cli import main
sys.exit(main(sys.argv[1:]))
"""


def offbatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFBATCH_", "GOOGLE_"))}
    env.update(OFFBATCH_HOME=str(tmp_path / "home"), PYTHONPATH=SRC, OFFBATCH_GOOGLE_PROJECT="p",
               OFFBATCH_BATCH_JOB_KEY="k" * 32, OFFBATCH_STORAGE_URL="gs://bucket/offbatch")
    return subprocess.run([sys.executable, "-c", NO_GOOGLE, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_dry_run_needs_no_gcp_extra_and_lists_it_as_a_problem(tmp_path) -> None:
    result = offbatch(tmp_path, "launch", "ingredients-spellcheck", "--backend", "google-batch", "--dry-run",
                      "--limit", "20")
    assert "Traceback" not in result.stderr, result.stderr
    plan = json.loads(result.stdout)
    assert plan["rows_selected"] == 20 and plan["cost_estimate"]["worst_case_usd"] > 0
    assert "pip install 'offbatch[gcp]'" in plan["request"]["unavailable"]
    assert any("offbatch[gcp]" in problem for problem in plan["problems"])


def test_a_launch_without_the_gcp_extra_is_a_one_line_config_error(tmp_path) -> None:
    result = offbatch(tmp_path, "launch", "ingredients-spellcheck", "--backend", "google-batch", "--yes")
    assert result.returncode == 2, result.stderr  # ConfigError's exit code
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "offbatch[gcp]" in result.stderr

"""CLI conventions: state per user, --json, UTC times, exit codes, completion, tables, pipes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import pytest

from offbatch import errors
from offbatch.db.models import Job
from offbatch.db.session import Database
from offbatch.settings import load_settings
from tests.cli.conftest import clean_env, offbatch

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38)(?:;[0-9;]*)?m")


# --- state in one place per user ----------------------------------------------------------------

def test_default_home_is_per_user_not_per_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("OFFBATCH_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.home_dir == tmp_path / "me" / ".offbatch"
    assert settings.db_url == f"sqlite:///{tmp_path / 'me' / '.offbatch' / 'offbatch.db'}"


def test_list_sees_the_same_jobs_from_any_directory_and_offbatch_home_overrides(tmp_path):
    user = tmp_path / "me"
    db = Database(f"sqlite:///{user / '.offbatch' / 'offbatch.db'}")
    with db.session() as s:
        s.add(Job(id="ingredients-spellcheck-20260101-000000", job_type="ingredients-spellcheck", backend="local",
                  backend_ref="x", state="SUCCEEDED", storage_url="file:///nowhere", task_count=1, rows_selected=3,
                  engine="cpu", config={"location": "local", "machine_type": "local"},
                  created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.dispose()
    env = clean_env(HOME=str(user))
    for cwd in (tmp_path, tmp_path / "elsewhere"):
        cwd.mkdir(exist_ok=True)
        listed = json.loads(offbatch("list", "--json", env=env, cwd=cwd).stdout)
        assert [j["job_id"] for j in listed] == ["ingredients-spellcheck-20260101-000000"]
        assert listed[0]["created_at"] == "2026-01-01T00:00:00Z"
    other = clean_env(HOME=str(user), OFFBATCH_HOME=str(tmp_path / "other"))
    assert json.loads(offbatch("list", "--json", env=other).stdout) == []


# --- JSON on every read command, UTC times --------------------------------------------------------

def _times(value, found):
    if isinstance(value, dict):
        for key, item in value.items():
            if (key.endswith("_at") or key == "time") and item is not None:
                found.append(item)
            _times(item, found)
    elif isinstance(value, list):
        for item in value:
            _times(item, found)
    return found


def test_read_commands_print_valid_json_on_stdout_with_utc_times(done_job):
    env, job_id = done_job
    documents = {
        "list": offbatch("list", "--json", env=env),
        "status": offbatch("status", job_id, "--json", env=env),
        "logs": offbatch("logs", job_id, "--json", env=env),
        "insights": offbatch("insights", "--json", "--limit", "5", env=env),
        "import": offbatch("import", job_id, "--json", env=env),
    }
    parsed = {name: json.loads(result.stdout) for name, result in documents.items()}
    assert parsed["list"][0]["job_id"] == job_id
    assert parsed["status"]["state"] == "SUCCEEDED" and parsed["status"]["tasks"]
    assert any("wrote" in r["line"] and r["task"] in (0, 1) for r in parsed["logs"]["lines"])
    assert parsed["insights"]["count"] == len(parsed["insights"]["insights"]) or parsed["insights"]["count"] > 5
    assert parsed["import"]["already_imported"] is True and parsed["import"]["predictions_created"] == 30
    times = _times(parsed, [])
    assert len(times) > 10
    assert all(UTC_TIME.match(t) for t in times), times
    # Messages for people go to stderr; stdout stays one JSON document.
    assert "already imported" not in documents["import"].stdout


def test_logs_follow_json_is_one_object_a_line(done_job):
    env, job_id = done_job
    lines = offbatch("logs", job_id, "--follow", "--json", env=env).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert records and {r["task"] for r in records} == {0, 1}


def test_tables_show_times_in_utc_with_the_zone(done_job):
    env, job_id = done_job
    listed = offbatch("list", env=env).stdout
    assert re.search(rf"{job_id}\s+local\s+SUCCEEDED\s+30\s+2\s+\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listed), listed
    status = offbatch("status", job_id, env=env).stdout
    assert re.search(r"created:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status)
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  task 0 started \(attempt 1\)", status)


# --- exit codes --------------------------------------------------------------------------------------

def _documented_codes() -> dict[str, int]:
    section = DOCS.read_text().split("## Exit codes", 1)[1]
    rows = re.findall(r"^\| (\d+) \| ([^|]+?) \|", section, re.MULTILINE)
    return {name: int(code) for code, name in rows}


def test_the_exit_code_table_in_the_docs_matches_the_code():
    import offbatch.imports.importer  # noqa: F401 - defines an internal subclass, which must not change the table

    assert _documented_codes() == errors.exit_codes()
    # Distinct for usage errors and each error class (the base class is never raised).
    raised = {name: code for name, code in errors.exit_codes().items() if name not in ("ok", "OffbatchError")}
    assert len(set(raised.values()) - {errors.EXIT_JOB_UNSUCCESSFUL}) == len(raised) - 1


def test_usage_errors_and_error_classes_exit_with_their_codes(env):
    cases = [
        (["list", "--limit", "0"], errors.EXIT_USAGE, "0 is not in the range 1<=x<=1000"),
        (["list", "--limit", "-1"], errors.EXIT_USAGE, "-1 is not in the range"),
        (["list", "--no-such-option"], errors.EXIT_USAGE, "No such option"),
        (["no-such-command"], errors.EXIT_USAGE, "No such command"),
        (["launch", "ingredients-spellcheck", "--limit", "0"], errors.EXIT_USAGE, "--limit"),
        (["list", "--job-type", "nope"], errors.ConfigError.exit_code,
         "error: unknown job type 'nope'; known job types: ingredients-spellcheck"),
        (["status", "ingredients-spellcheck-20000101-000000"], errors.NotFoundError.exit_code, "error: no job"),
        (["insights", "accept", "999"], errors.NotFoundError.exit_code, "error: no insight 999"),
    ]
    for args, code, words in cases:
        result = offbatch(*args, env=env, check=False)
        assert result.returncode == code, (args, result.returncode, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


# --- shell completion ----------------------------------------------------------------------------------

def _complete(env: dict[str, str], words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = offbatch(env={**env, "_OFFBATCH_COMPLETE": "bash_complete", "COMP_WORDS": words,
                           "COMP_CWORD": str(cword)}, check=True)
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_protocol_completes_commands_job_types_and_job_ids(done_job):
    env, job_id = done_job
    assert _complete(env, "offbatch sta") == ["status"]
    assert {"launch", "list", "logs", "insights", "completion"} <= set(_complete(env, "offbatch "))
    assert _complete(env, "offbatch launch ingr") == ["ingredients-spellcheck"]
    assert _complete(env, "offbatch list --job-type ") == ["ingredients-spellcheck"]
    assert _complete(env, "offbatch status ingredients-") == [job_id]
    assert _complete(env, "offbatch logs ") == [job_id]
    assert _complete(env, "offbatch insights ") == ["accept", "edit", "reject"]
    assert _complete(env, "offbatch completion ") == ["bash", "zsh", "fish"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_through_the_real_protocol(done_job):
    env, job_id = done_job
    # `offbatch` on PATH, as an installed command is.
    bin_dir = Path(env["OFFBATCH_HOME"]).parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "offbatch").write_text(f"#!/bin/sh\nexec {sys.executable} -m offbatch \"$@\"\n")
    (bin_dir / "offbatch").chmod(0o755)
    script = ('eval "$(offbatch completion bash)"; COMP_WORDS=(offbatch status ingr); COMP_CWORD=2; '
              '_offbatch_completion offbatch; printf "%s\\n" "${COMPREPLY[@]}"')
    result = subprocess.run(["bash", "--norc", "-c", script], env={**env, "PATH": f"{bin_dir}:{env['PATH']}"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout.split() == [job_id], result.stderr
    for shell, marker in (("zsh", "zsh_complete"), ("fish", "fish_complete")):
        assert marker in offbatch("completion", shell, env=env).stdout


# --- tables on a terminal, pipes, start-up ----------------------------------------------------------------

def _on_terminal(args: list[str], env: dict[str, str], *, columns: int) -> str:
    """Run offbatch with stdout on a pseudo-terminal ``columns`` wide; return what it showed."""
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "offbatch", *args], env={**env, "TERM": "xterm-256color"},
                               stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(main)
    assert process.returncode == 0, process.stderr.read()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_tables_fit_the_terminal_and_colour_states_unless_no_color(done_job):
    env, job_id = done_job
    shown = _on_terminal(["list"], env, columns=60)
    lines = [ANSI.sub("", line) for line in shown.splitlines() if line.strip()]
    assert lines and max(len(line) for line in lines) <= 60, lines
    assert COLOUR.search(shown), repr(shown)  # SUCCEEDED in colour
    # The id folds onto two lines rather than being cut.
    assert job_id in "".join(line.split()[0] for line in lines[2:] if line.split())
    plain = _on_terminal(["list"], {**env, "NO_COLOR": "1"}, columns=60)
    assert not COLOUR.search(plain), repr(plain)
    assert "SUCCEEDED" in plain


def test_writing_into_a_closed_pipe_exits_quietly(done_job):
    env, job_id = done_job
    for args in (["list"], ["status", job_id], ["logs", job_id], ["list", "--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has gone, as `| head -1` does once it has its line
        result = subprocess.run([sys.executable, "-m", "offbatch", *args], env=env, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=60, check=False)
        os.close(write_end)
        assert result.returncode == errors.EXIT_BROKEN_PIPE, (args, result.stderr)
        assert result.stderr == "", (args, result.stderr)


def test_help_imports_neither_rich_nor_the_commands(env):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "offbatch", "--help"], env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "offbatch.cli" in imported
    assert not {m for m in imported if m == "rich" or m.startswith("rich.")}
    assert "offbatch.cli.jobs" not in imported and "sqlalchemy" not in imported


def test_a_launch_on_the_embedded_database_imports_nothing_it_does_not_use(env):
    # Each of these cost a small job a visible share of its ~1 s (docs/performance.md): Alembic and
    # Mako for a new database or one at head, httpx (and Rich, through its own CLI) with no
    # notification to send, psycopg on SQLite. (pyarrow.compute is used: the import builds each
    # chunk's rows with it, and --wait imports the importer while the job runs.)
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "offbatch", "launch", "ingredients-spellcheck",
                             "--limit", "8", "--wait"], env=env, capture_output=True, text=True, timeout=180,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "offbatch.launcher" in imported and "offbatch.imports.importer" in imported
    unused = {m for m in imported if m.split(".")[0] in ("alembic", "mako", "httpx", "rich", "psycopg")}
    assert not unused


def test_a_launch_submits_its_job_without_the_orm_or_arrow_compute(env):
    # What a launch does before its job can start is on the critical path of every small job: the
    # row is written with Core statements (db/tables.py), not the ORM (its import and mappers,
    # ~70 ms of CPU), and pyarrow.compute (~40 ms) is only the import's. `--wait` loads both while
    # the job runs.
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "offbatch", "launch", "ingredients-spellcheck",
                             "--limit", "8"], env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "submitted" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert {"offbatch.launcher", "offbatch.db.tables", "sqlalchemy", "duckdb"} <= imported
    late = {m for m in imported
            if m.split(".")[:2] == ["sqlalchemy", "orm"] or m in ("offbatch.db.models", "pyarrow.compute")}
    assert not late

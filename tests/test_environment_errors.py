"""Environment problems are one line, a hint and their own exit code, never a traceback: the
real CLI in subprocesses, as a user meets them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from offbatch.errors import ConfigError, DatabaseError, SetupError
from tests.conftest import PG_ENV
from tests.fakes.gcs_fixtures import free_port

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_") and k != "BATCH_JOB_KEY"}
    return {**clean, "OFFBATCH_HOME": str(home), "PYTHONPATH": SRC}


def refused(args: list[str], env: dict[str, str], *, error: type, code: str = "") -> str:
    """Run the CLI; check it exits with ``error``'s code and prints exactly 'error: ...' and 'hint: ...'."""
    program = ["-c", f"import sys\n{code}\nfrom offbatch.cli import main\nsys.exit(main())"]
    result = subprocess.run([sys.executable, *program, *args], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == error.exit_code, (result.returncode, result.stderr)
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), result.stderr
    return result.stderr


def test_offbatch_home_that_is_a_file(env, tmp_path):
    (tmp_path / "a-file").write_text("")
    env["OFFBATCH_HOME"] = str(tmp_path / "a-file")
    for args in (["list"], ["launch", "ingredients-spellcheck", "--dry-run"]):
        err = refused(args, env, error=SetupError)
        assert f"OFFBATCH_HOME {tmp_path / 'a-file'} is not a directory" in err


def test_offbatch_home_that_cannot_be_created(env, tmp_path):
    if os.geteuid() == 0:
        place = Path("/sys/offbatch-test-home")  # root may write anywhere but in /sys
        if not Path("/sys/kernel").is_dir():
            pytest.skip("needs Linux's /sys to make a folder root cannot create")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        place = locked / "home"
    env["OFFBATCH_HOME"] = str(place)
    err = refused(["list"], env, error=SetupError)
    assert f"cannot create OFFBATCH_HOME {place}" in err and "writable directory" in err


def test_a_wrong_database_port(env):
    env["OFFBATCH_DATABASE_URL"] = f"postgresql+psycopg://postgres:secret-pw@127.0.0.1:{free_port()}/offbatch"
    for args in (["status", "some-job"],):
        err = refused(args, env, error=DatabaseError)
        assert "cannot connect to the database postgresql+psycopg://postgres:***@127.0.0.1" in err
        assert "secret-pw" not in err and "host and port" in err


def test_a_postgresql_url_without_the_driver(env):
    env["OFFBATCH_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/offbatch"
    # As if the postgres extra were not installed: the driver modules cannot be imported.
    err = refused(["list"], env, error=DatabaseError,
                  code="sys.modules['psycopg'] = None\nsys.modules['psycopg2'] = None")
    assert "pip install 'offbatch[postgres]'" in err


def test_serve_on_a_port_out_of_range_or_taken(env):
    err = refused(["serve", "--port", "99999"], env, error=ConfigError)
    assert "--port 99999 is not a TCP port" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = refused(["serve", "--port", str(port)], env, error=SetupError)
    assert f"cannot listen on 127.0.0.1:{port}" in err and "another --port" in err


@pytest.fixture
def postgres_server() -> str:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"needs PostgreSQL ({PG_ENV})")
    url = make_url(os.environ[PG_ENV])
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def test_a_missing_postgresql_database(env, postgres_server):
    name = f"offbatch_missing_{uuid.uuid4().hex[:8]}"
    env["OFFBATCH_DATABASE_URL"] = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    for args in (["db", "upgrade"],):
        err = refused(args, env, error=DatabaseError)
        assert f'database "{name}" does not exist' in err and f"createdb {name}" in err


def test_an_unmigrated_postgresql_database(env, postgres_server):
    name = f"offbatch_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # a generated identifier, not input
    try:
        env["OFFBATCH_DATABASE_URL"] = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
        for args in (["list"], ["serve"]):
            err = refused(args, env, error=DatabaseError)
            assert "has no offbatch schema" in err and "hint: run: offbatch db upgrade" in err
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

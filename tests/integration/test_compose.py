"""docker-compose.yml, .env.example and the Dockerfile stay true to the code: every command is a
real `envdesk` command, every variable is one envdesk reads and is documented, the broker is
durable, and the services start in order and report their health."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import click
import pytest
import yaml
from celery.utils.nodenames import host_format
from click.testing import CliRunner

from service.cli import cli
from service.adapters.config import Settings
from service.adapters.routing import ALL_QUEUES, PROD_QUEUES, QUEUES, route_for
from tests.support.tools import require_tool
from tests.helpers import new_secret

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
ENVDESK_SERVICES = sorted(name for name, svc in SERVICES.items() if "build" in svc)

# The code reads configuration as env.get("X", ...), os.environ.get("X"), os.environ["X"] (not an
# assignment: that is the code setting a variable for a library) or getenv("X").
_READ = re.compile(r"""\b(?:env|environ)\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""
                   r"""|\benviron\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\](?!\s*=[^=])"""
                   r"""|\bgetenv\(\s*["']([A-Z][A-Z0-9_]*)["']""")
# Per-route targets are read by prefix (service/adapters/config.py): PROVISIONING_URL_<TYPE>_<STAGE>.
ROUTE_VARIABLES = {f"PROVISIONING_URL_{type_}_{stage}".upper(): (type_, stage) for type_, stage in QUEUES}
# Values that differ between the embedded default and a Compose deployment on purpose.
DEPLOYMENT_SPECIFIC = {"ENVDESK_HOME", "DATABASE_URL", "DATABASE_POOLER", "REDIS_URL", "SECRET_KEY", "PROVISIONING_URL",
                       "PROVISIONING_TOKEN", "WEBHOOK_SECRET", "METRICS_TOKEN", "WEB_CONCURRENCY"}


def code_variables() -> set[str]:
    found: set[str] = set()
    for package in ("service", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            for match in _READ.finditer(path.read_text()):
                found.add(next(group for group in match.groups() if group))
    return found | set(ROUTE_VARIABLES)


def env_example() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, set); commented-out `# NAME=value` lines are documented but not set."""
    entries = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            entries[match[2]] = (match[3], not match[1])
    return entries


_DEFAULTED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}")
_REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?([^}]*)\}")
REQUIRED_SECRETS = {"SECRET_KEY", "PROVISIONING_TOKEN", "WEBHOOK_SECRET", "METRICS_TOKEN",
                    "DATABASE_URL", "POSTGRES_PASSWORD"}


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def compose_defaults() -> dict[str, str]:
    """NAME -> default of every `${NAME:-default}` in docker-compose.yml."""
    return dict(match for text in _strings(COMPOSE) for match in _DEFAULTED.findall(text))


def compose_required() -> dict[str, str]:
    """NAME -> message of every `${NAME:?message}` in docker-compose.yml."""
    return dict(match for text in _strings(COMPOSE) for match in _REQUIRED.findall(text))


def interpolated(value: object) -> str:
    return _DEFAULTED.sub(lambda m: m[2], str(value))


def envdesk_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for name in ENVDESK_SERVICES:
        svc = SERVICES[name]
        commands.append((name, svc["command"]))
        test = svc.get("healthcheck", {}).get("test", [])
        if test[1:2] == ["envdesk"]:
            commands.append((f"{name} healthcheck", test[1:]))
    return commands


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


@pytest.mark.parametrize(("where", "argv"), [pytest.param(*c, id=c[0]) for c in envdesk_commands()])
def test_every_service_runs_a_real_envdesk_command(where: str, argv: list[str]) -> None:
    assert argv[0] == "envdesk", f"{where}: {argv} does not run envdesk"
    result = CliRunner().invoke(cli, [*argv[1:], "--help"])
    assert result.exit_code == 0, \
        f"{where}: `{' '.join(argv)}` is not a valid envdesk command:\n{result.output}"


def test_image_default_command_is_the_api_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", final_stage, re.M)[1])
    assert cmd == ["envdesk", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert CliRunner().invoke(cli, [*cmd[1:], "--help"]).exit_code == 0
    assert re.search(r"^USER 10001", final_stage, re.M)
    assert "EXPOSE 8080" in final_stage and "PYTHONUNBUFFERED=1" in final_stage


def _worker_argv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]) -> list[str]:
    """The Celery argv `command` would start a worker with (no worker is started)."""
    captured: list[list[str]] = []

    class FakeCelery:
        def worker_main(self, argv: list[str]) -> None:
            captured.append(argv)

    monkeypatch.setattr("workers.app.make_celery", lambda settings: FakeCelery())
    saved = dict(os.environ)  # the command may export variables for the libraries it starts
    try:
        result = CliRunner(env={"PROVISIONING_TOKEN": new_secret(), "ENVDESK_HOME": str(tmp_path)}).invoke(
            cli, command[1:])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.exit_code == 0, result.output
    return captured[0]


def test_prod_worker_takes_only_prod_queues_and_the_other_worker_takes_the_rest(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    consumed = {}
    for name in ("worker-prod", "worker-nonprod"):
        argv = _worker_argv(monkeypatch, tmp_path, SERVICES[name]["command"])
        consumed[name] = set(argv[argv.index("-Q") + 1].split(","))
    assert consumed["worker-prod"] == set(PROD_QUEUES)
    assert not consumed["worker-nonprod"] & set(PROD_QUEUES)
    assert consumed["worker-prod"] | consumed["worker-nonprod"] == set(ALL_QUEUES), "a queue nobody consumes"


def test_worker_healthcheck_pings_the_node_name_the_worker_runs_as(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    argv = _worker_argv(monkeypatch, tmp_path, SERVICES["worker-prod"]["command"])
    node = host_format(argv[argv.index("-n") + 1])
    ping = cli.commands["worker-ping"]
    hostname = next(p for p in ping.params if p.name == "hostname")
    assert node == hostname.get_default(click.Context(ping)) == f"envdesk@{socket.gethostname()}"


def test_services_set_only_variables_the_code_reads() -> None:
    known = code_variables()
    for name in ENVDESK_SERVICES:
        unknown = set(SERVICES[name].get("environment", {})) - known
        assert not unknown, f"{name} sets variables envdesk never reads: {sorted(unknown)}"


def test_every_variable_the_code_reads_is_documented_in_env_example() -> None:
    missing = code_variables() - set(env_example())
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_values_are_the_compose_defaults() -> None:
    example, defaults = env_example(), compose_defaults()
    for name, default in defaults.items():
        assert name in example, f"{name} is used in docker-compose.yml but not documented in .env.example"
        assert example[name] == (default, True), f"{name}: .env.example and docker-compose.yml disagree"
    not_passed = {name for name, (_, is_set) in example.items() if is_set} - set(defaults)
    assert not_passed == set(compose_required()), f"setting {sorted(not_passed)} in .env would change nothing"


def test_compose_requires_every_secret_and_defaults_none() -> None:
    required, example = compose_required(), env_example()
    assert set(required) == REQUIRED_SECRETS
    assert not REQUIRED_SECRETS & set(compose_defaults()), "a secret has a default"
    for name, message in required.items():
        assert name in message and "envdesk secret new" in message or name == "DATABASE_URL", message
        assert example[name] == ("", True), f".env.example must leave {name} empty"


def test_compose_tunables_default_to_the_code_defaults() -> None:
    environment = SERVICES["api"]["environment"]
    for name in set(environment) - DEPLOYMENT_SPECIFIC:
        value = interpolated(environment[name])
        assert Settings.from_env({name: value}) == Settings.from_env({}), \
            f"{name}={value} in docker-compose.yml differs from the code default"


@pytest.mark.parametrize("name", sorted(ROUTE_VARIABLES))
def test_documented_per_route_variable_sets_that_route_target(name: str) -> None:
    type_, stage = ROUTE_VARIABLES[name]
    settings = Settings.from_env({name: "https://provisioning.example.com/"})
    assert route_for(type_, stage, settings).target == "https://provisioning.example.com"


def test_redis_keeps_queued_work_durable_and_never_evicts() -> None:
    command = SERVICES["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2]))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    svc = SERVICES[name]
    if str(svc.get("restart")) == "no":  # one-shot: `service_completed_successfully` is its signal
        return
    check = svc.get("healthcheck") or {}
    assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_api_workers_and_beat_start_after_migrations_completed() -> None:
    assert SERVICES["migrate"]["depends_on"]["pgbouncer"]["condition"] == "service_healthy"
    assert SERVICES["pgbouncer"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker-prod", "worker-nonprod", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_every_envdesk_process_reaches_postgresql_through_pgbouncer_in_transaction_mode() -> None:
    bouncer = SERVICES["pgbouncer"]["environment"]
    assert bouncer["POOL_MODE"] == "transaction"
    for name in ENVDESK_SERVICES:
        environment = SERVICES[name]["environment"]
        url = interpolated(environment["DATABASE_URL"])
        assert f"@pgbouncer:{bouncer['LISTEN_PORT']}/" in url, name
        assert Settings.from_env({"DATABASE_POOLER": interpolated(environment["DATABASE_POOLER"])}
                                 ).database_pooler == "pgbouncer", name


def test_workers_get_time_to_finish_a_running_task_on_shutdown() -> None:
    hard_limit = Settings.from_env({"TASK_HARD_TIME_LIMIT": compose_defaults()["TASK_HARD_TIME_LIMIT"]})
    for name in ("worker-prod", "worker-nonprod"):
        assert seconds(SERVICES[name]["stop_grace_period"]) > hard_limit.task_hard_time_limit, name


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    binary = require_tool("docker-compose", why="docker-compose.yml cannot be validated")
    argv = [binary, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}  # only the file counts
    return subprocess.run([*argv, "config", "-q"], capture_output=True, text=True, timeout=120, env=env)


def _demanded(output: str) -> str:
    """The variable docker-compose says is missing: its message (after the service) names it."""
    found = re.search(r"in service \"[^\"]+\": set ([A-Z][A-Z0-9_]*) in \.env", output)
    assert found, f"docker-compose refused the file, but not for a missing variable:\n{output}"
    return found[1]


def test_docker_compose_refuses_an_empty_env_file_naming_each_secret(tmp_path: Path) -> None:
    """docker-compose 1.x names one missing variable at a time: set each one it names, until it
    accepts the file; every secret, SECRET_KEY among them, must have been asked for."""
    env_file, values, demanded = tmp_path / ".env", {}, []
    env_file.write_text("")
    for _ in range(len(REQUIRED_SECRETS) + 1):
        result = _compose_config(env_file)
        if result.returncode == 0:
            break
        demanded.append(_demanded(result.stderr))
        values[demanded[-1]] = new_secret()
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    assert demanded and set(demanded) == REQUIRED_SECRETS, demanded
    assert "SECRET_KEY" in demanded


def test_docker_compose_refuses_env_example_as_shipped_and_accepts_it_with_secrets(tmp_path: Path) -> None:
    shipped = _compose_config(ENV_EXAMPLE)
    assert shipped.returncode != 0 and _demanded(shipped.stderr) in REQUIRED_SECRETS
    filled = ENV_EXAMPLE.read_text()
    for name in REQUIRED_SECRETS:
        filled = re.sub(rf"^{name}=$", f"{name}={new_secret()}", filled, flags=re.M)
    (tmp_path / ".env").write_text(filled)
    result = _compose_config(tmp_path / ".env")
    assert result.returncode == 0, f"docker-compose config rejected the file:\n{result.stderr}"


def test_a_secret_missing_from_the_env_file_is_named(tmp_path: Path) -> None:
    for missing in sorted(REQUIRED_SECRETS):
        (tmp_path / ".env").write_text("".join(f"{name}={new_secret()}\n"
                                               for name in REQUIRED_SECRETS - {missing}))
        result = _compose_config(tmp_path / ".env")
        assert result.returncode != 0 and _demanded(result.stderr) == missing, result.stderr

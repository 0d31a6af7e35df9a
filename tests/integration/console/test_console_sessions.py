"""Console sessions live on the server: a cookie names a session the server holds, or nobody.

Through Flask's test client on PostgreSQL; the cookies are made as an attacker who knows
SECRET_KEY would make them, with Flask's own serializer."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from typing import Any, Callable, Iterator

import pytest

from click.testing import CliRunner
from sqlalchemy import event, select

from service import console
from service.api import create_app
from service.api.runtime import build_runtime
from service.cli import cli
from service.adapters.models import ConsoleSession
from tests.helpers import new_secret
from tests.integration.console.conftest import csrf_token, file, sign_in
from tests.support.fakes import Clock
from tests.support.world import World

COOKIE = "envdesk_console"


def _signed(app: Any, data: dict[str, Any]) -> str:
    """A session cookie signed with the app's real key (what a leaked SECRET_KEY allows)."""
    return app.session_interface.get_signing_serializer(app).dumps(data)


def _cookie(client: Any) -> str:
    cookie = client.get_cookie(COOKIE, path="/console")
    assert cookie is not None, "no console cookie"
    return cookie.value


def _with_cookie(app: Any, value: str) -> Any:
    client = app.test_client()
    client.set_cookie(COOKIE, value, path="/console")
    return client


def _lands_on_sign_in(response: Any) -> bool:
    return response.status_code == 303 and "/console/login" in response.headers["Location"]


def _sessions(uow_factory_pg: Any) -> list[ConsoleSession]:
    with uow_factory_pg() as uow:
        return list(uow.session.scalars(select(ConsoleSession)))


def test_a_forged_cookie_for_a_staff_member_is_refused(console_app: Any, world: World) -> None:
    forged = _signed(console_app, {"user_id": world.users["support"], "_permanent": True})
    response = _with_cookie(console_app, forged).get("/console/")
    assert _lands_on_sign_in(response)
    guessed = _signed(console_app, {"sid": secrets.token_urlsafe(32), "_permanent": True})
    assert _lands_on_sign_in(_with_cookie(console_app, guessed).get("/console/"))


def test_a_cookie_replayed_after_sign_out_is_refused(console_app: Any, staff: Any) -> None:
    page = staff.get("/console/").get_data(as_text=True)
    stolen = _cookie(staff)
    assert _with_cookie(console_app, stolen).get("/console/").status_code == 200
    assert staff.post("/console/logout", data={"csrf_token": csrf_token(page)}).status_code == 303
    assert _lands_on_sign_in(_with_cookie(console_app, stolen).get("/console/"))


def test_the_cookie_holds_a_random_id_and_the_server_only_its_hash(
        console_app: Any, staff: Any, world: World, uow_factory_pg: Any) -> None:
    first = console_app.session_interface.get_signing_serializer(console_app).loads(_cookie(staff))
    assert set(first) <= {"sid", "csrf_token", "_permanent"}, "the cookie names more than a session"
    assert len(first["sid"]) >= 22  # 128 bits or more, URL-safe base64
    [row] = _sessions(uow_factory_pg)
    assert row.id_hash == hashlib.sha256(first["sid"].encode()).hexdigest()
    assert row.user_id == world.users["support"] and row.expires_at > row.idle_expires_at
    # A sign-in always makes a new session: an id known before it (fixation) does not survive.
    before = _cookie(staff)
    assert sign_in(staff, world.tokens["support"]).status_code == 303
    second = console_app.session_interface.get_signing_serializer(console_app).loads(_cookie(staff))
    assert second["sid"] != first["sid"]
    assert [r.id_hash for r in _sessions(uow_factory_pg)] == [hashlib.sha256(second["sid"].encode()).hexdigest()]
    assert _lands_on_sign_in(_with_cookie(console_app, before).get("/console/"))


def test_an_operator_revokes_every_session_of_a_user(console_app: Any, console_settings: Any,
                                                    world: World, staff: Any) -> None:
    other = console_app.test_client()
    assert sign_in(other, world.tokens["support"]).status_code == 303
    result = CliRunner(env={"DATABASE_URL": console_settings.database_url}).invoke(
        cli, ["user", "sessions", "revoke", "Support@example.com"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"revoked": 2, "email": "support@example.com"}
    assert _lands_on_sign_in(staff.get("/console/"))
    assert _lands_on_sign_in(other.get("/console/"))


def test_an_idle_session_ends_and_a_used_one_ends_at_its_absolute_expiry(
        staff: Any, clock: Clock, world: World, uow_factory_pg: Any) -> None:
    for _ in range(10):  # a page every 50 minutes keeps it alive, for 8 hours at most
        clock.tick(50 * 60)
        response = staff.get("/console/")
        if response.status_code != 200:
            break
    assert clock.now - _sessions(uow_factory_pg)[0].created_at > console.security.TIMES.absolute
    assert _lands_on_sign_in(staff.get("/console/"))
    assert sign_in(staff, world.tokens["support"]).status_code == 303
    clock.tick(61 * 60)  # idle for longer than an hour
    assert _lands_on_sign_in(staff.get("/console/"))


def test_last_use_is_written_at_most_once_a_minute(staff: Any, clock: Clock, uow_factory_pg: Any) -> None:
    signed_in = _sessions(uow_factory_pg)[0].last_used_at
    clock.tick(30)
    assert staff.get("/console/").status_code == 200
    assert _sessions(uow_factory_pg)[0].last_used_at == signed_in
    clock.tick(31)
    assert staff.get("/console/").status_code == 200
    assert _sessions(uow_factory_pg)[0].last_used_at == clock.now


def test_a_queue_page_adds_one_statement_the_session_with_its_user(
        console_app: Any, staff: Any, world: World) -> None:
    file(console_app.test_client(), world)
    assert staff.get("/console/").status_code == 200  # the counts are taken, and kept 5 s
    sent: list[str] = []
    # Every session factory of the process binds one engine (reads through an option of it).
    with console_app.extensions["envdesk"].sessions() as probe:
        engine = probe.get_bind()
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    assert staff.get("/console/").status_code == 200
    selects = [sql for sql in sent if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, "\n\n".join(selects)
    assert sum("console_sessions" in sql and "users" in sql for sql in selects) == 1


def test_old_cookies_csrf_tokens_and_cursors_stay_valid_while_a_new_key_rolls_out(
        console_settings: Any, world: World, clock: Clock, apps: Any) -> None:
    old_key = console_settings.secret_key
    old_app = apps(console_settings, clock)
    api = old_app.test_client()
    for who in ("customer_a", "customer_b"):
        file(api, world, f"{who}_stage", who)
    cursor = api.get("/v1/tickets?limit=1", headers=world.auth("support")).get_json()["next_cursor"]
    assert cursor
    browser = old_app.test_client()
    assert sign_in(browser, world.tokens["support"]).status_code == 303
    token = csrf_token(browser.get("/console/").get_data(as_text=True))
    cookie = _cookie(browser)

    rotated = dataclasses.replace(console_settings, secret_key=new_secret(), secret_key_fallbacks=(old_key,))
    new_app = apps(rotated, clock)
    assert new_app.test_client().get(f"/v1/tickets?limit=1&cursor={cursor}",
                                     headers=world.auth("support")).status_code == 200
    carried = _with_cookie(new_app, cookie)
    assert carried.get("/console/").status_code == 200
    signed_out = carried.post("/console/logout", data={"csrf_token": token})
    assert signed_out.status_code == 303 and "signed_out=1" in signed_out.headers["Location"]

    # Without the fallback, what the old key signed is refused.
    assert sign_in(browser, world.tokens["support"]).status_code == 303
    cookie, token = _cookie(browser), csrf_token(browser.get("/console/").get_data(as_text=True))
    bare = apps(dataclasses.replace(rotated, secret_key_fallbacks=()), clock)
    assert bare.test_client().get(f"/v1/tickets?limit=1&cursor={cursor}",
                                  headers=world.auth("support")).status_code == 422
    assert _lands_on_sign_in(_with_cookie(bare, cookie).get("/console/"))
    refused = _with_cookie(bare, cookie).post("/console/logout", data={"csrf_token": token})
    assert refused.status_code == 400  # the form of a page left open is refused


def test_a_sign_in_form_from_before_the_rotation_still_signs_in(console_settings: Any, world: World,
                                                                 clock: Clock, apps: Any) -> None:
    """The sign-in form's token is checked by the form too (Flask-WTF), not only before the view."""
    old_app = apps(console_settings, clock)
    browser = old_app.test_client()
    token = csrf_token(browser.get("/console/login").get_data(as_text=True))
    rotated = dataclasses.replace(console_settings, secret_key=new_secret(),
                                  secret_key_fallbacks=(console_settings.secret_key,))
    carried = _with_cookie(apps(rotated, clock), _cookie(browser))
    signed_in = carried.post("/console/login", data={"token": world.tokens["support"], "csrf_token": token})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/console/"
    assert carried.get("/console/").status_code == 200


@pytest.fixture
def apps() -> Iterator[Callable[[Any, Clock], Any]]:
    """Apps of their own settings (one key, then the next); their connections closed after."""
    made: list[Any] = []

    def make(settings: Any, clock: Clock) -> Any:
        app = create_app(settings, build_runtime(settings, clock=clock))
        console.register(app, settings)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        with app.extensions["envdesk"].sessions() as probe:
            probe.get_bind().dispose()

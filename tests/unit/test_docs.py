"""The docs stay true to the code: the webhook verification snippet that portal developers copy
accepts what envdesk signs and refuses what it should, and the docs link only to pages that exist."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

from service.adapters.webhooks import SIGNATURE_HEADER, sign

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SECRET = "whsec-test"
BODY = b'{"event":"ticket.approved","ticket":{"id":"t1"}}'
NOW = 1_790_000_000


@pytest.fixture(scope="module")
def verify() -> Callable[..., bool]:
    """The Python snippet under "## Webhooks" in docs/api.md, run as a receiver would paste it."""
    webhooks = (DOCS / "api.md").read_text().split("## Webhooks", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", webhooks, re.DOTALL)[1]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["verify_envdesk_signature"]


def test_the_docs_name_the_header_envdesk_sends() -> None:
    assert f"`{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>`" in (DOCS / "api.md").read_text()


def test_the_snippet_accepts_a_webhook_envdesk_signed(verify: Callable[..., bool]) -> None:
    assert verify(sign(BODY, SECRET, NOW), BODY, SECRET, now=NOW + 30)


def test_the_snippet_accepts_any_one_matching_signature_during_a_secret_rotation(verify) -> None:
    old = sign(BODY, "old-secret", NOW).split(",")[1]

    assert verify(f"{sign(BODY, SECRET, NOW)},{old}", BODY, SECRET, now=NOW)
    assert verify(f"{sign(BODY, SECRET, NOW)},{old}", BODY, "old-secret", now=NOW)


@pytest.mark.parametrize("header, body, secret, now", [
    (sign(BODY, SECRET, NOW), BODY + b" ", SECRET, NOW),               # body changed in transit
    (sign(BODY, SECRET, NOW), BODY, "another-secret", NOW),            # not our sender
    (sign(BODY, SECRET, NOW), BODY, SECRET, NOW + 3600),               # replayed an hour later
    (sign(BODY, SECRET, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), BODY, SECRET, NOW),  # new stamp
    (f"t={NOW}", BODY, SECRET, NOW),                                   # no signature at all
    ("v1=" + sign(BODY, SECRET, NOW).split("v1=")[1], BODY, SECRET, NOW),  # no timestamp
    ("", BODY, SECRET, NOW),
])
def test_the_snippet_refuses_what_envdesk_did_not_sign_just_now(verify, header, body, secret, now) -> None:
    assert not verify(header, body, secret, now=now)


def test_links_between_the_docs_and_from_the_readme_point_at_files_that_exist() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_every_path_the_architecture_names_exists() -> None:
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`((?:service|schemas|workers|tests|bench|scripts)/[\w./-]*)`", text))
    assert named
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []

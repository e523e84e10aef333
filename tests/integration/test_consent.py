"""Consent to the legal documents, over HTTP: publishing versions, acceptance at registration,
the CONSENT_REQUIRED gate after a material change, accepting, withdrawing, the history, the
token response, the export and erasure, and what the gate costs a request.

Every test starts and ends with nothing published (``tests.support.legal``): a published
version changes registration and sign-in for the whole suite.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import httpx
import pytest
from sqlalchemy import select

from shared.database import unit_of_work
from shared.models import AuditLog, Consent
from shared.redis_client import Keys, get_redis
from tests.support.accounts import PASSWORD, Account, Actor
from tests.support.emails import token_from_last_email
from tests.support.legal import CONSENTS, DOCUMENTS, accepted, nothing_published, publish
from tests.support.round_trips import counting_round_trips

TERMS, PRIVACY = "terms_of_service", "privacy_policy"
ACCEPT_WITH = "POST /api/v1/users/me/consents"  # details name the call that accepts each


@pytest.fixture(autouse=True)
def _nothing_published_around_each_test() -> Iterator[None]:
    with nothing_published():
        yield


@pytest.fixture
def root(signed_in: Callable[..., Actor]) -> Actor:
    return signed_in("super_admin")


@pytest.fixture
def both_published(root: Actor) -> dict[str, str]:
    """The terms and the privacy policy, each with a first version (no reconsent)."""
    assert publish(root, TERMS, "2026-01").status_code == 201
    assert publish(root, PRIVACY, "2026-01").status_code == 201
    return {TERMS: "2026-01", PRIVACY: "2026-01"}


def _registered(client: httpx.Client, unique_email: Callable[[str], str], **fields: Any) -> Account:
    """A donor who registered with ``fields`` (e.g. ``accepted_documents``) and verified the address."""
    account = Account(client, unique_email("consenting"))
    answer = account.register(**fields)
    assert answer.status_code == 201, answer.text
    assert account.verify().status_code == 200
    return account


def _consenting(client: httpx.Client, unique_email: Callable[[str], str], versions: dict[str, str]) -> Actor:
    """A donor who accepted ``versions`` at registration, signed in."""
    return Actor(_registered(client, unique_email, accepted_documents=accepted(*versions.items())))


@pytest.fixture
def consenting(client: httpx.Client, unique_email: Callable[[str], str]) -> Callable[[dict[str, str]], Actor]:
    """``consenting(versions)``: a donor who accepted ``versions`` at registration, signed in."""
    return lambda versions: _consenting(client, unique_email, versions)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _fields(response: httpx.Response) -> dict[str, str]:
    """The 422's failing fields: field name -> type."""
    assert response.status_code == 422, response.text
    return {entry["field"]: entry["type"] for entry in _error(response)["details"]["fields"]}


def _consents_of(user_id: str) -> list[Consent]:
    with unit_of_work() as db:
        return list(
            db.scalars(select(Consent).where(Consent.user_id == uuid.UUID(user_id)).order_by(Consent.at, Consent.id))
        )


# -- publishing and registration ------------------------------------------------------------------


def test_with_nothing_published_registration_needs_nothing_new(
    client: httpx.Client, unique_email: Callable[[str], str]
) -> None:
    assert client.get(DOCUMENTS).json() == {"items": []}
    account = _registered(client, unique_email)
    tokens = account.tokens()
    assert tokens["consent_required"] is False
    assert account.me(tokens["access_token"]).json()["consent_required"] is False


def test_once_published_registration_must_accept_the_current_versions(
    client: httpx.Client, unique_email: Callable[[str], str], both_published: dict[str, str]
) -> None:
    listed = client.get(DOCUMENTS).json()["items"]
    assert [(item["kind"], item["version"], item["requires_reconsent"]) for item in listed] == [
        (PRIVACY, "2026-01", False),
        (TERMS, "2026-01", False),
    ]
    assert listed[0]["url"] == "https://augeo.example/legal/privacy_policy/2026-01"

    account = Account(client, unique_email("consenting"))
    assert _fields(account.register()) == {"accepted_documents": "consent_required"}
    only_terms = account.register(accepted_documents=accepted((TERMS, "2026-01")))
    assert _fields(only_terms) == {"accepted_documents": "consent_required"}
    assert "privacy policy" in _error(only_terms)["details"]["fields"][0]["message"]
    stale = account.register(accepted_documents=accepted((TERMS, "2025-12"), (PRIVACY, "2026-01")))
    assert _fields(stale) == {
        "accepted_documents": "consent_required",
        "accepted_documents.0.version": "version_not_current",
    }
    unknown = account.register(accepted_documents=[{"kind": "cookie_policy", "version": "1"}])
    assert "accepted_documents.0.kind" in _fields(unknown)

    registered = account.register(accepted_documents=accepted((TERMS, "2026-01"), (PRIVACY, "2026-01")))
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["user"]["id"]
    rows = _consents_of(user_id)
    assert sorted((row.kind, row.version, row.action) for row in rows) == [
        (PRIVACY, "2026-01", "accepted"),
        (TERMS, "2026-01", "accepted"),
    ]
    assert {(row.ip_address, row.user_agent) for row in rows} == {(account.ip, "pytest-browser/1.0")}
    assert all(row.at is not None for row in rows)
    with unit_of_work() as db:
        audited = db.scalars(
            select(AuditLog.details).where(
                AuditLog.event_type == "consent.accepted", AuditLog.target_user_id == uuid.UUID(user_id)
            )
        ).all()
    assert sorted(entry["kind"] for entry in audited) == [PRIVACY, TERMS]


def test_publishing_needs_a_super_admin_with_a_recent_proof(
    root: Actor, signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    for role, npo in (("npo_admin", str(uuid.uuid4())), ("donor", None)):
        refused = publish(signed_in(role, npo), TERMS, "2026-01")
        assert refused.status_code == 403 and _error(refused)["code"] == "FORBIDDEN", refused.text
    monkeypatch.setattr("shared.clock.now", lambda: time.time() + 11 * 60)  # 11 minutes after the sign-in
    stale = publish(root, TERMS, "2026-01")
    assert stale.status_code == 403 and _error(stale)["code"] == "REAUTHENTICATION_REQUIRED"
    monkeypatch.undo()
    assert publish(root, TERMS, "2026-01").status_code == 201
    with unit_of_work() as db:
        published = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "document.published", AuditLog.actor_user_id == uuid.UUID(root.id)
            )
        ).one()
    assert published.details["kind"] == TERMS and published.details["version"] == "2026-01"


def test_publishing_again_is_idempotent_and_never_rewrites_or_goes_back(root: Actor) -> None:
    first = publish(root, TERMS, "v1")
    assert first.status_code == 201
    again = publish(root, TERMS, "v1")
    assert again.status_code == 200 and again.json() == first.json()
    moved = publish(root, TERMS, "v1", url="https://augeo.example/elsewhere")
    assert moved.status_code == 409 and _error(moved)["code"] == "DOCUMENT_VERSION_CONFLICT"
    stricter = publish(root, TERMS, "v1", reconsent=True)
    assert stricter.status_code == 409
    assert publish(root, TERMS, "v2").status_code == 201
    back = publish(root, TERMS, "v1")
    assert back.status_code == 409 and _error(back)["details"]["current_version"] == "v2"
    documents = root.account.http.get(DOCUMENTS).json()["items"]
    assert [(doc["kind"], doc["version"]) for doc in documents] == [(TERMS, "v2")]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            f"{DOCUMENTS}/cookie_policy",
            {"version": "v1", "url": "https://a.example/x", "requires_reconsent": False},
            "kind",
        ),
        (
            f"{DOCUMENTS}/{TERMS}",
            {"version": "v 1", "url": "https://a.example/x", "requires_reconsent": False},
            "version",
        ),
        (f"{DOCUMENTS}/{TERMS}", {"version": "v1", "url": "http://a.example/x", "requires_reconsent": False}, "url"),
        (f"{DOCUMENTS}/{TERMS}", {"version": "v1", "url": "https://a.example/x"}, "requires_reconsent"),
        (
            f"{DOCUMENTS}/{TERMS}",
            {"version": "v1", "url": "https://a.example/x", "requires_reconsent": 0},
            "requires_reconsent",
        ),
    ],
)
def test_a_bad_publication_is_a_422_naming_the_field(root: Actor, path: str, body: dict[str, Any], field: str) -> None:
    assert field in _fields(root.request("PUT", path, json=body))


# -- the gate -------------------------------------------------------------------------------------


def test_a_version_requiring_reconsent_blocks_the_next_request_until_accepted(
    client: httpx.Client, unique_email: Callable[[str], str], root: Actor, both_published: dict[str, str]
) -> None:
    donor = _consenting(client, unique_email, both_published)
    assert donor.request("GET", "/api/v1/roles").status_code == 200
    assert get_redis().exists(Keys.user_state(donor.id)), "the donor's state is cached"

    assert publish(root, TERMS, "2026-05", reconsent=True).status_code == 201

    refused = donor.request("GET", "/api/v1/roles")
    assert refused.status_code == 403
    assert _error(refused)["code"] == "CONSENT_REQUIRED"
    assert _error(refused)["details"] == {"owed": [{"kind": TERMS, "version": "2026-05"}], "accept_with": ACCEPT_WITH}
    assert donor.request("PATCH", "/api/v1/users/me", json={"city": "Paris"}).status_code == 403
    # What stays open: who I am, my consents, my sessions, my data.
    me = donor.request("GET", "/api/v1/users/me")
    assert me.status_code == 200 and me.json()["consent_required"] is True
    mine = donor.request("GET", CONSENTS)
    assert mine.status_code == 200
    assert [(doc["kind"], doc["version"]) for doc in mine.json()["owed"]] == [(TERMS, "2026-05")]
    assert donor.request("GET", "/api/v1/users/me/sessions").status_code == 200
    assert donor.request("GET", "/api/v1/users/me/export").status_code == 200
    assert client.get(DOCUMENTS).status_code == 200

    answer = donor.request("POST", CONSENTS, json={"kind": TERMS, "version": "2026-05"})
    assert answer.status_code == 201, answer.text
    assert donor.request("GET", "/api/v1/roles").status_code == 200, "accepting clears it at once"
    assert donor.request("GET", "/api/v1/users/me").json()["consent_required"] is False
    again = donor.request("POST", CONSENTS, json={"kind": TERMS, "version": "2026-05"})
    assert again.status_code == 200 and again.json() == answer.json()
    assert donor.request("POST", "/api/v1/auth/logout").status_code == 204


def test_logout_works_while_a_consent_is_owed(
    consenting: Callable[[dict[str, str]], Actor], root: Actor, both_published: dict[str, str]
) -> None:
    donor = consenting(both_published)
    assert publish(root, PRIVACY, "2026-06", reconsent=True).status_code == 201
    assert _error(donor.request("GET", "/api/v1/roles"))["code"] == "CONSENT_REQUIRED"
    assert donor.request("POST", "/api/v1/auth/logout").status_code == 204
    assert donor.request("GET", "/api/v1/users/me").status_code == 401


def test_a_version_without_reconsent_blocks_no_one(
    client: httpx.Client, unique_email: Callable[[str], str], root: Actor, both_published: dict[str, str]
) -> None:
    donor = _consenting(client, unique_email, both_published)
    someone = Actor(_registered(client, unique_email, accepted_documents=accepted(*both_published.items())))
    assert publish(root, TERMS, "2026-02").status_code == 201
    assert donor.request("GET", "/api/v1/roles").status_code == 200
    assert someone.account.tokens()["consent_required"] is False
    # A newcomer accepts what is current now.
    newcomer = Account(client, unique_email("newcomer"))
    old = newcomer.register(accepted_documents=accepted((TERMS, "2026-01"), (PRIVACY, "2026-01")))
    assert _fields(old)["accepted_documents.0.version"] == "version_not_current"


def test_a_first_version_requiring_reconsent_blocks_those_who_never_accepted_anything(
    account: Account, root: Actor
) -> None:
    donor = Actor(account)  # registered before anything was published
    assert donor.request("GET", "/api/v1/roles").status_code == 200
    assert publish(root, TERMS, "v1").status_code == 201
    assert donor.request("GET", "/api/v1/roles").status_code == 200, "no reconsent: the earlier users go on"
    assert publish(root, PRIVACY, "v1", reconsent=True).status_code == 201
    refused = donor.request("GET", "/api/v1/roles")
    assert _error(refused)["details"] == {"owed": [{"kind": PRIVACY, "version": "v1"}], "accept_with": ACCEPT_WITH}


def test_withdrawing_blocks_like_an_owed_consent_and_the_history_keeps_every_step(
    consenting: Callable[[dict[str, str]], Actor], both_published: dict[str, str]
) -> None:
    donor = consenting(both_published)
    assert donor.request("DELETE", f"{CONSENTS}/{TERMS}").status_code == 204
    refused = donor.request("GET", "/api/v1/roles")
    assert refused.status_code == 403
    assert _error(refused)["details"] == {"owed": [{"kind": TERMS, "version": "2026-01"}], "accept_with": ACCEPT_WITH}
    again = donor.request("DELETE", f"{CONSENTS}/{TERMS}")
    assert again.status_code == 404, "nothing left to withdraw"
    assert donor.request("POST", CONSENTS, json={"kind": TERMS, "version": "2026-01"}).status_code == 201
    assert donor.request("GET", "/api/v1/roles").status_code == 200
    assert donor.request("DELETE", f"{CONSENTS}/{PRIVACY}").status_code == 204
    assert _error(donor.request("GET", "/api/v1/roles"))["code"] == "CONSENT_REQUIRED"

    history = donor.request("GET", CONSENTS).json()
    steps = [(item["kind"], item["action"]) for item in history["items"]]
    assert steps[2:] == [(TERMS, "withdrawn"), (TERMS, "accepted"), (PRIVACY, "withdrawn")]
    assert sorted(steps[:2]) == [(PRIVACY, "accepted"), (TERMS, "accepted")]
    times = [item["at"] for item in history["items"]]
    assert times == sorted(times)
    assert {item["ip_address"] for item in history["items"]} == {donor.account.ip}
    assert [(doc["kind"], doc["version"]) for doc in history["owed"]] == [(PRIVACY, "2026-01")]
    with unit_of_work() as db:
        audited = db.scalars(
            select(AuditLog.event_type)
            .where(AuditLog.target_user_id == uuid.UUID(donor.id), AuditLog.event_type.like("consent.%"))
            .order_by(AuditLog.created_at)
        ).all()
    assert audited.count("consent.withdrawn") == 2 and audited.count("consent.accepted") == 3


def test_accepting_is_for_the_current_version_of_a_known_kind(
    consenting: Callable[[dict[str, str]], Actor], root: Actor, both_published: dict[str, str]
) -> None:
    donor = consenting(both_published)
    assert publish(root, TERMS, "2026-07").status_code == 201
    assert _fields(donor.request("POST", CONSENTS, json={"kind": TERMS, "version": "2026-01"})) == {
        "version": "version_not_current"
    }
    assert "kind" in _fields(donor.request("POST", CONSENTS, json={"kind": "cookie_policy", "version": "1"}))
    assert "kind" in _fields(donor.request("DELETE", f"{CONSENTS}/cookie_policy"))
    assert _consents_of(donor.id)[-1].version == "2026-01", "nothing recorded"


def test_the_token_response_says_consent_required(
    client: httpx.Client, unique_email: Callable[[str], str], root: Actor, both_published: dict[str, str]
) -> None:
    account = _registered(client, unique_email, accepted_documents=accepted(*both_published.items()))
    assert account.tokens()["consent_required"] is False
    assert publish(root, TERMS, "2026-08", reconsent=True).status_code == 201
    tokens = account.tokens()
    assert tokens["consent_required"] is True
    refreshed = account.refresh(tokens["refresh_token"]).json()
    assert refreshed["consent_required"] is True
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    taken = account.http.post(CONSENTS, json={"kind": TERMS, "version": "2026-08"}, headers=bearer)
    assert taken.status_code == 201
    again = account.refresh(refreshed["refresh_token"]).json()
    assert again["consent_required"] is False


def test_the_permission_check_names_an_owed_consent(
    consenting: Callable[[dict[str, str]], Actor], root: Actor, both_published: dict[str, str]
) -> None:
    donor = consenting(both_published)
    question = {"permission": "bids:place"}
    assert donor.request("POST", "/api/v1/authz/check", json=question).json()["allowed"] is True
    assert publish(root, TERMS, "2026-09", reconsent=True).status_code == 201
    answer = donor.request("POST", "/api/v1/authz/check", json=question).json()
    assert answer == {"allowed": False, "reason": "consent_required"}


# -- personal data --------------------------------------------------------------------------------


def test_the_export_holds_the_consent_history_and_erasure_keeps_it_without_address_or_browser(
    consenting: Callable[[dict[str, str]], Actor], both_published: dict[str, str]
) -> None:
    donor = consenting(both_published)
    assert donor.request("DELETE", f"{CONSENTS}/{PRIVACY}").status_code == 204
    exported = donor.request("GET", "/api/v1/users/me/export")
    assert exported.status_code == 200, "the personal-data routes stay open while a consent is owed"
    history = exported.json()["consents"]
    assert [item["action"] for item in history][-1] == "withdrawn"
    assert len(history) == 3
    assert {item["ip_address"] for item in history} == {donor.account.ip}
    assert all(item["user_agent"] for item in history)

    erased = donor.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD})
    assert erased.status_code == 204, erased.text
    rows = _consents_of(donor.id)
    assert len(rows) == 3, "the proof of consent stays"
    assert {(row.kind, row.version) for row in rows} == {(TERMS, "2026-01"), (PRIVACY, "2026-01")}
    assert all(row.ip_address is None and row.user_agent is None for row in rows)


# -- what the gate costs --------------------------------------------------------------------------


def _get(path: str, actor: Actor) -> func.HttpRequest:
    """A GET of ``path`` as ``actor``, for a function called in-process."""
    return func.HttpRequest("GET", path, headers={"Authorization": f"Bearer {actor.access_token}"}, body=b"")


def test_the_gate_travels_with_the_cached_state_at_no_extra_round_trip(
    consenting: Callable[[dict[str, str]], Actor],
    root: Actor,
    both_published: dict[str, str],
    functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    donor, owing = consenting(both_published), consenting(both_published)
    assert publish(root, TERMS, "2026-10", reconsent=True).status_code == 201
    assert donor.request("POST", CONSENTS, json={"kind": TERMS, "version": "2026-10"}).status_code == 201
    for actor in (donor, owing):
        actor.request("GET", "/api/v1/users/me")  # warm: the state cached, the scripts loaded

    def costs(actor: Actor, name: str, path: str) -> tuple[int, int, int]:
        request = _get(path, actor)
        with counting_round_trips(monkeypatch) as seen:
            response = functions[name](request)
        return response.status_code, len(seen.redis), len(seen.sql)

    assert costs(donor, "roles_list", "/api/v1/roles") == (200, 1, 0), "nothing owed: the session script only"
    assert costs(donor, "users_me", "/api/v1/users/me") == (200, 1, 1), "the row it returns, nothing more"
    assert costs(owing, "roles_list", "/api/v1/roles") == (403, 1, 0), "owed: refused on the cached state alone"
    refused = functions["roles_list"](_get("/api/v1/roles", owing))
    assert json.loads(refused.get_body())["error"]["details"] == {
        "owed": [{"kind": TERMS, "version": "2026-10"}],
        "accept_with": ACCEPT_WITH,
    }


# -- the contract ---------------------------------------------------------------------------------


def test_the_openapi_document_has_the_consent_routes_with_their_codes(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert {"200", "503"} <= statuses(DOCUMENTS, "get")
    assert paths[DOCUMENTS]["get"]["security"] == []
    publish_path = f"{DOCUMENTS}/{{kind}}"
    assert {"200", "201", "401", "403", "409", "422"} <= statuses(publish_path, "put")
    kind = next(p for p in paths[publish_path]["put"]["parameters"] if p["name"] == "kind")
    assert kind["schema"] == {"type": "string", "enum": [TERMS, PRIVACY]}
    assert {"200", "401", "403"} <= statuses(CONSENTS, "get")
    assert {"200", "201", "401", "403", "422"} <= statuses(CONSENTS, "post")
    assert {"204", "401", "403", "404", "422"} <= statuses(f"{CONSENTS}/{{kind}}", "delete")
    schemas = document["components"]["schemas"]
    assert "accepted_documents" in schemas["RegisterRequest"]["properties"]
    assert "consent_required" in schemas["TokenResponse"]["properties"]
    assert "consent_required" in schemas["CurrentUserOut"]["properties"]
    assert schemas["PublishRequest"]["properties"]["url"]["pattern"].startswith("^https://")


# -- invitation acceptance ------------------------------------------------------------------------


def test_a_new_account_from_an_invitation_accepts_the_published_documents_as_registration_does(
    client: httpx.Client, unique_email: Callable[[str], str], root: Actor, both_published: dict[str, str]
) -> None:
    """The accept page creates an account: the same rule as registration, and nothing spent by a refusal."""
    email = unique_email("invited-consenting")
    invited = root.request(
        "POST", "/api/v1/invitations", json={"email": email, "role": "staff", "npo_id": str(uuid.uuid4())}
    )
    assert invited.status_code == 201, invited.text
    token = token_from_last_email(email, "invited")
    body = {"token": token, "password": "Fresh-gala-pass-42", "first_name": "In", "last_name": "Vited"}

    refused = client.post("/api/v1/invitations/accept", json=body)
    assert _fields(refused) == {"accepted_documents": "consent_required"}
    assert client.post("/api/v1/invitations/inspect", json={"token": token}).status_code == 200, "still unspent"

    documents = accepted(*both_published.items())
    created = client.post("/api/v1/invitations/accept", json={**body, "accepted_documents": documents})
    assert created.status_code == 201, created.text
    assert created.json()["consent_required"] is False
    rows = _consents_of(created.json()["user"]["id"])
    assert sorted((row.kind, row.version, row.action) for row in rows) == [
        (PRIVACY, "2026-01", "accepted"),
        (TERMS, "2026-01", "accepted"),
    ]

"""The inspector's security model without a browser: the sign-in cookie, the CSRF guard,
escaping, permissions and scoping of every route, security headers, Server-Timing; and the
parts of a recalled memory's score ("why it ranked") on both stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from retain.core.ranking import Ranking
from retain.errors import InvalidInputError
from retain.server.ui.forms import (
    diff_values,
    parse_memory_value,
    profile_fields,
    read_profile_form,
    validate_profile,
)
from retain.stores import PostgresStore, RankedItem, RetainStore, SQLiteStore
from tests.server.conftest import ADMIN, RunningServer
from tests.stateful.conftest import INDEX

NS = ["users", "u1", "memories"]


def _key(server: RunningServer, permissions: list[str], subject: str = "u1") -> str:
    with server.client() as admin:
        made = admin.post(
            "/v1/keys",
            json={
                "name": "k",
                "prefixes": [["users", "{key_subject}"]],
                "permissions": permissions,
                "subject": subject,
            },
        )
        return str(made.json()["secret"])


def _signed_in(server: RunningServer, secret: str) -> httpx.Client:
    http = httpx.Client(base_url=server.url, timeout=30, headers={"Origin": server.url})
    answer = http.post("/ui/login", data={"api_key": secret})
    assert answer.status_code == 303, answer.text
    return http


@pytest.fixture
def seeded(server: RunningServer) -> RunningServer:
    with server.client() as admin:
        for key, text in [("tea", "User likes green tea"), ("xss", "<script>x()</script>")]:
            admin.post("/v1/memories", json={"namespace": NS, "key": key, "value": {"c": text}})
    return server


def test_sign_in_cookie_is_httponly_strict_and_never_shown(seeded: RunningServer) -> None:
    secret = _key(seeded, ["read"])
    with httpx.Client(base_url=seeded.url, timeout=30) as http:
        page = http.get("/ui/login")
        assert page.status_code == 200
        assert "api_key" in page.text
        login = http.post("/ui/login", data={"api_key": secret}, headers={"Origin": seeded.url})
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        for flag in ("HttpOnly", "SameSite=strict", "Path=/ui"):
            assert flag.lower() in cookie.lower(), cookie
        for path in ["/ui/namespaces", "/ui/memories?ns=users.u1", "/ui/profile", "/ui/jobs"]:
            answer = http.get(path)
            assert answer.status_code == 200, path
            assert secret not in answer.text
            assert secret.split("_")[2] not in answer.text
            csp = answer.headers["content-security-policy"]
            assert "script-src" not in csp
            assert "default-src 'none'" in csp
            assert answer.headers["x-frame-options"] == "DENY"
        bad = http.post("/ui/login", data={"api_key": secret + "x"}, headers={"Origin": seeded.url})
        assert bad.status_code == 401
        assert secret not in bad.text
        http.post("/ui/logout", headers={"Origin": seeded.url})
        assert http.get("/ui/namespaces").status_code == 303  # signed out: to the sign-in


def test_posts_from_another_origin_are_refused(seeded: RunningServer) -> None:
    http = _signed_in(seeded, ADMIN)
    form = {"ns": "users.u1.memories", "key": "tea", "value": '{"c": "changed"}'}
    for headers in [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": ""}]:
        answer = http.post("/ui/memory/edit", data=form, headers=headers)
        assert answer.status_code == 403, headers
    no_origin = httpx.post(  # neither Origin nor Referer
        f"{seeded.url}/ui/memory/edit", data=form, cookies=http.cookies, timeout=30
    )
    assert no_origin.status_code == 403
    login = httpx.post(
        f"{seeded.url}/ui/login", data={"api_key": ADMIN}, headers={"Origin": "http://evil"}
    )
    assert login.status_code == 403
    assert "set-cookie" not in login.headers
    with seeded.client() as admin:
        got = admin.get("/v1/memories/item?namespace=users.u1.memories&key=tea").json()
        assert got["value"] == {"c": "User likes green tea"}  # nothing changed
    referred = http.post(
        "/ui/memory/edit",
        data=form,
        headers={"Origin": "", "Referer": f"{seeded.url}/ui/memory?ns=users.u1.memories&key=tea"},
    )
    assert referred.status_code == 303  # same origin by Referer: accepted


def test_values_are_escaped_on_every_page(seeded: RunningServer) -> None:
    http = _signed_in(seeded, ADMIN)
    for path in [
        "/ui/memories?ns=users.u1",
        "/ui/memories?ns=users.u1&q=script",
        "/ui/memory?ns=users.u1.memories&key=xss",
    ]:
        answer = http.get(path)
        assert "<script>x()" not in answer.text, path
        assert "&lt;script&gt;x()" in answer.text, path
    odd = http.get("/ui/memory", params={"ns": "users.u1.memories", "key": "<img src=x>"})
    assert odd.status_code == 404
    assert "<img src=x>" not in odd.text


def test_read_only_key_cannot_write_and_sees_no_forms(seeded: RunningServer) -> None:
    http = _signed_in(seeded, _key(seeded, ["read"]))
    page = http.get("/ui/memory", params={"ns": "users.u1.memories", "key": "tea"})
    assert page.status_code == 200
    assert "Save new version" not in page.text
    for path, form in [
        ("/ui/memory/edit", {"ns": "users.u1.memories", "key": "tea", "value": "{}"}),
        ("/ui/memory/delete", {"ns": "users.u1.memories", "key": "tea"}),
        ("/ui/memory/restore", {"ns": "users.u1.memories", "key": "tea", "version": "1"}),
        ("/ui/profile", {"user": "u1", "name": "x"}),
        ("/ui/purge", {"prefix": "users.u1", "confirm": "users.u1"}),
    ]:
        assert http.post(path, data=form).status_code == 403, path
    assert http.get("/ui/export/download", params={"prefix": "users.u1"}).status_code == 403
    with seeded.client() as admin:
        assert len(admin.get("/v1/memories?prefix=users.u1").json()) == 2


def test_revoked_key_is_signed_out_at_once(seeded: RunningServer) -> None:
    secret = _key(seeded, ["read"])
    http = _signed_in(seeded, secret)
    assert http.get("/ui/namespaces").status_code == 200
    with seeded.client() as admin:
        key_id = secret.split("_")[1]
        assert admin.delete(f"/v1/keys/{key_id}").status_code == 204
    assert http.get("/ui/namespaces").status_code == 303


def test_api_errors_stay_json_and_answers_carry_server_timing(seeded: RunningServer) -> None:
    with seeded.client() as admin:
        missing = admin.get("/v1/memories/item?namespace=users.u9&key=x")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "NotFoundError"
        assert admin.get("/v1/nope").json()["error"]["type"] == "NotFoundError"
        listed = admin.get("/v1/memories?prefix=users.u1")
        assert listed.headers["server-timing"].startswith("app;dur=")
    http = _signed_in(seeded, ADMIN)
    page = http.get("/ui/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    bad = http.get("/ui/memories", params={"ns": "users..u1"})
    assert bad.status_code == 400
    assert "text/html" in bad.headers["content-type"]
    assert http.get("/ui/memories?ns=users.u1").headers["server-timing"].startswith("app;dur=")


def test_the_inspector_can_be_left_out(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(mcp=False, ui=False)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/ui/login").status_code == 404


# -- why it ranked -----------------------------------------------------------------------------


def _ranked_parts(store: RetainStore) -> None:
    store.put(("users", "u1"), "tea", {"content": "User likes green tea"})
    store.put(("users", "u1"), "car", {"content": "User drives a red car"})
    for found in (
        store.recall(("users", "u1"), query="green tea"),
        store.search(("users", "u1"), query="green tea"),
    ):
        assert found[0].key == "tea"
        assert all(isinstance(item, RankedItem) for item in found)
        top = found[0]
        assert isinstance(top, RankedItem)
        assert 0 < top.vector <= 1
        assert 0 < top.keyword <= 1
        assert all(0 <= i.vector <= 1 and 0 <= i.keyword <= 1 for i in found)  # type: ignore[attr-defined]
        # the parts explain the whole score: fused vector and keyword, plus context (here
        # the car memory, written right after the tea one, is lifted as its neighbour)
        weight = Ranking().vector_weight
        for item in found:
            assert isinstance(item, RankedItem)
            fused = weight * item.vector + (1 - weight) * item.keyword
            assert item.score == pytest.approx(fused + item.context)
        car = next(i for i in found if i.key == "car")
        assert isinstance(car, RankedItem)
        assert car.context > 0
        assert top.context == 0
    keyword = store.recall(("users", "u1"), query="green tea", mode="keyword")
    assert keyword[0].key == "tea"
    assert keyword[0].keyword > 0
    assert store.search(("users", "u1"))[0].score is None  # a listing: no parts


def test_recall_explains_its_scores_on_sqlite(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    try:
        _ranked_parts(store)
    finally:
        store.close()


@pytest.mark.postgres
def test_recall_explains_its_scores_on_postgres(pg_url: str) -> None:
    store = PostgresStore(pg_url, index=INDEX)  # type: ignore[arg-type]
    try:
        _ranked_parts(store)
    finally:
        store.close()


def test_the_inspector_shows_the_parts_on_postgres(
    pg_url: str, make_server: Callable[..., RunningServer]
) -> None:
    server = make_server(PostgresStore(pg_url, index=INDEX), mcp=False)  # type: ignore[arg-type]
    with server.client() as admin:
        admin.post("/v1/memories", json={"namespace": NS, "key": "t", "value": {"c": "green tea"}})
    http = _signed_in(server, ADMIN)
    page = http.get("/ui/memories", params={"ns": "users.u1", "q": "green tea"})
    assert page.status_code == 200
    assert 'class="vector">1.000' in page.text
    assert 'class="keyword">1.000' in page.text


# -- the pure helpers ----------------------------------------------------------------------------


def test_profile_form_fields_and_validation() -> None:
    from tests.server.test_ui import Profile

    schema = Profile.model_json_schema()
    fields = {f.name: f for f in profile_fields(schema)}
    assert {n: f.kind for n, f in fields.items()} == {
        "name": "text",
        "age": "integer",
        "language": "enum",
        "vegetarian": "boolean",
        "interests": "list",
    }
    assert fields["language"].choices == ("en", "fr", "de")
    assert fields["age"].maximum == 150
    values, errors = read_profile_form(
        list(fields.values()),
        {"name": "", "age": "7", "language": "", "vegetarian": "true", "interests": "a\n\nb"},
    )
    assert errors == {}
    assert values == {
        "name": None,
        "age": 7,
        "language": None,
        "vegetarian": True,
        "interests": ["a", "b"],
    }
    assert read_profile_form([fields["age"]], {"age": "x"})[1] == {"age": "Enter a whole number."}
    assert "age" in validate_profile(Profile, {"age": -1})
    assert validate_profile(Profile, values) == {}


def test_memory_values_are_checked_and_diffed() -> None:
    assert parse_memory_value('{"a": 1}') == {"a": 1}
    for bad in ["[1]", "{", '{"kind": "Memory", "content": {"content": 5}}']:
        with pytest.raises(InvalidInputError, match=r"JSON|object|Memory"):
            parse_memory_value(bad)
    diff = diff_values({"a": "<b>"}, None)
    assert [d.kind for d in diff if d.kind != "hunk"] == ["del", "del", "del"]

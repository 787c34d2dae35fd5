"""Tenant isolation: a key scoped to ("users", "u1") works on its own namespaces and is
refused on ("users", "u2") by every endpoint, in a way that reveals nothing (the answer is
the same as for a namespace that never existed)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.server.conftest import RunningServer

U2 = ["users", "u2", "memories"]


def _swap(value: Any) -> Any:
    """The same request aimed at u9, a tenant that never existed."""
    return json.loads(json.dumps(value).replace("u2", "u9"))


class Refusals:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.count = 0

    def check(self, method: str, url: str, **kwargs: Any) -> None:
        """u1's key asking for u2's data gets 404, byte for byte what it gets for u9."""
        real = self.http.request(method, url, **kwargs)
        fake = self.http.request(method, _swap(url), **{k: _swap(v) for k, v in kwargs.items()})
        assert real.status_code == 404, (method, url, real.status_code, real.text)
        assert (real.status_code, real.content) == (fake.status_code, fake.content)
        assert real.json()["error"]["type"] == "NotFoundError"
        assert "u2" not in real.json()["error"]["message"] or "u2" in url + json.dumps(kwargs)
        self.count += 1


def test_a_user_key_is_refused_on_another_user_everywhere(server: RunningServer) -> None:
    with server.client() as admin:
        keys = {}
        for user in ("u1", "u2"):
            made = admin.post(
                "/v1/keys",
                json={
                    "name": f"app of {user}",
                    "prefixes": [["users", "{key_subject}"]],
                    "subject": user,
                    "permissions": ["read", "write", "admin"],
                },
            )
            assert made.status_code == 201, made.text
            assert made.json()["scopes"] == [["users", user]]
            keys[user] = made.json()
    with server.client(keys["u2"]["secret"]) as u2:
        u2.post(
            "/v1/memories", json={"namespace": U2, "key": "secret", "value": {"content": "u2 tea"}}
        )
        u2.patch("/v1/profiles/u2", json={"name": "Bea"})
        job = u2.post(
            "/v1/conversations",
            json={"namespace": U2, "messages": [{"role": "user", "content": "hi"}], "delay": 600},
        ).json()
    with server.client(keys["u1"]["secret"]) as u1:
        # its own namespaces work
        mine = ["users", "u1", "memories"]
        assert (
            u1.post(
                "/v1/memories", json={"namespace": mine, "key": "k", "value": {"content": "u1 tea"}}
            ).status_code
            == 200
        )
        found = u1.post(
            "/v1/memories/search", json={"prefix": ["users", "u1"], "query": "tea"}
        ).json()
        assert [i["value"]["content"] for i in found] == ["u1 tea"]

        r = Refusals(u1)
        ns = "namespace=users.u2.memories&key=secret"
        r.check("POST", "/v1/memories", json={"namespace": U2, "key": "x", "value": {"v": 1}})
        r.check("GET", f"/v1/memories/item?{ns}")
        r.check("DELETE", f"/v1/memories/item?{ns}")
        r.check("GET", "/v1/memories?prefix=users.u2")
        r.check("GET", "/v1/memories?prefix=users")
        r.check("GET", "/v1/memories?prefix=")
        r.check("POST", "/v1/memories/search", json={"prefix": U2, "query": "tea"})
        r.check("POST", "/v1/memories/search", json={"prefix": ["users"], "query": "tea"})
        r.check("POST", "/v1/memories/search", json={"prefix": [], "query": "tea"})
        r.check("GET", f"/v1/memories/history?{ns}")
        r.check("GET", f"/v1/memories/as-of?{ns}&at=2030-01-01T00:00:00%2B00:00")
        r.check(
            "POST", "/v1/memories/restore", json={"namespace": U2, "key": "secret", "version": 1}
        )
        for op in (
            {"op": "get", "namespace": U2, "key": "secret"},
            {"op": "put", "namespace": U2, "key": "x", "value": {"v": 1}},
            {"op": "put", "namespace": U2, "key": "secret", "value": None},
            {"op": "search", "namespace_prefix": ["users"], "query": "tea"},
        ):
            r.check("POST", "/v1/batch", json={"ops": [op]})
        r.check("GET", "/v1/export?prefix=users.u2")
        r.check("GET", "/v1/export?prefix=users")
        r.check("POST", "/v1/purge", json={"prefix": ["users", "u2"]})
        r.check("POST", "/v1/purge", json={"prefix": ["users"]})
        r.check("GET", "/v1/stats?prefix=users.u2")
        r.check("GET", "/v1/profiles/u2")
        r.check("PATCH", "/v1/profiles/u2", json={"name": "Mallory"})
        r.check(
            "POST",
            "/v1/conversations",
            json={"namespace": U2, "messages": [{"role": "user", "content": "x"}]},
        )
        r.check("POST", "/v1/keys", json={"name": "x", "prefixes": [["users", "u2"]]})
        run = {
            "assistant_id": "memory",
            "input": {"messages": [["user", "x"]]},
            "config": {"configurable": {"namespace": U2}},
        }
        r.check("POST", "/threads/t/runs", json=run)
        assert r.count == 26
        # job ids and key ids are not namespaced: compare with ids that do not exist
        for method, real, fake in [
            ("GET", f"/v1/jobs/{job['id']}", "/v1/jobs/999999"),
            ("POST", f"/v1/jobs/{job['id']}/retry", "/v1/jobs/999999/retry"),
            ("DELETE", f"/v1/keys/{keys['u2']['id']}", "/v1/keys/000000000000"),
        ]:
            a, b = u1.request(method, real), u1.request(method, fake)
            assert (
                (a.status_code, a.content)
                == (b.status_code, b.content)
                == (b.status_code, b.content)
            )
            assert a.status_code == 404
            r.count += 1
        # the whole store (reembed) is outside any user's prefixes
        assert u1.post("/v1/reembed").status_code == 404
        r.count += 1
        # listings leave u2 out instead of refusing
        assert u1.get("/v1/namespaces").json() == [mine]
        assert u1.get("/v1/namespaces?prefix=users.u2").json() == []
        summary = u1.get("/v1/namespaces/summary").json()
        assert [(s["namespace"], s["items"]) for s in summary] == [(mine, 1)]
        r.check("GET", "/v1/namespaces/summary?prefix=users.u2")
        assert all(j["namespace"][:2] == ["users", "u1"] for j in u1.get("/v1/jobs").json())
        assert [k["id"] for k in u1.get("/v1/keys").json()] == [keys["u1"]["id"]]
        listed = u1.post("/v1/batch", json={"ops": [{"op": "list_namespaces"}]}).json()
        assert listed == {"results": [[mine]]}
        r.count += 5
        assert r.count == 36
    # u2's data is untouched
    with server.client() as admin:
        item = admin.get(f"/v1/memories/item?{ns}").json()
        assert item["value"] == {"content": "u2 tea"}
        assert admin.get("/v1/profiles/u2").json()["profile"]["name"] == "Bea"
        assert admin.get(f"/v1/jobs/{job['id']}").json()["state"] == "queued"
        assert [k["id"] for k in admin.get("/v1/keys").json()] == [
            keys["u1"]["id"],
            keys["u2"]["id"],
        ]


def test_permissions_answer_403_inside_the_scope_and_revoked_keys_401(
    server: RunningServer,
) -> None:
    with server.client() as admin:
        reader = admin.post(
            "/v1/keys",
            json={"name": "reader", "prefixes": [["users", "u1"]], "permissions": ["read"]},
        ).json()
        assert reader["permissions"] == ["read"]
    with server.client(reader["secret"]) as http:
        assert http.get("/v1/memories?prefix=users.u1").status_code == 200
        put = http.post("/v1/memories", json={"namespace": ["users", "u1"], "value": {"v": 1}})
        assert (put.status_code, put.json()["error"]["type"]) == (403, "PermissionDeniedError")
        assert http.post("/v1/purge", json={"prefix": ["users", "u1"]}).status_code == 403
        assert http.get("/v1/export?prefix=users.u1").status_code == 403
        # out of scope stays 404 even without the permission
        assert http.post("/v1/purge", json={"prefix": ["users", "u2"]}).status_code == 404
        # a key cannot mint a broader key
        assert (
            http.post("/v1/keys", json={"name": "x", "prefixes": [["users", "u1"]]}).status_code
            == 403
        )
    with server.client() as admin:
        assert admin.delete(f"/v1/keys/{reader['id']}").status_code == 204
    with server.client(reader["secret"]) as http:
        revoked = http.get("/v1/memories?prefix=users.u1")
        assert (revoked.status_code, revoked.json()["error"]["type"]) == (
            401,
            "AuthenticationError",
        )
        assert reader["secret"] not in revoked.text


def test_keys_are_stored_hashed(server: RunningServer, sqlite_path: Any) -> None:
    import sqlite3

    with server.client() as admin:
        made = admin.post("/v1/keys", json={"name": "k", "prefixes": [["users", "u1"]]}).json()
    conn = sqlite3.connect(sqlite_path)
    rows = conn.execute("SELECT * FROM retain_api_keys").fetchall()
    conn.close()
    secret_part = made["secret"].split("_", 2)[2]
    assert len(rows) == 1
    assert all(secret_part not in str(v) for v in rows[0])


def test_a_user_key_sees_only_its_namespaces_counts(server: RunningServer) -> None:
    counts = {("users", "u1", "memories"): 2, ("users", "u1", "profile"): 1}
    others = {("users", "u2", "memories"): 3, ("users", "u1x", "memories"): 1, ("teams",): 1}
    with server.client() as admin:
        for ns, n in {**counts, **others}.items():
            for i in range(n):
                put = admin.post(
                    "/v1/memories", json={"namespace": list(ns), "key": f"k{i}", "value": {"v": i}}
                )
                assert put.status_code == 200, put.text
        made = {
            name: admin.post(
                "/v1/keys",
                json={"name": name, "prefixes": prefixes, "subject": "u1", "permissions": ["read"]},
            ).json()["secret"]
            for name, prefixes in [
                ("u1", [["users", "{key_subject}"]]),
                ("overlapping", [["users", "u1"], ["users", "u1", "memories"]]),
                ("and-teams", [["users", "u1", "memories"], ["teams"]]),  # two parts of the tree
            ]
        }
    expected = [[list(ns), n] for ns, n in sorted(counts.items())]
    for name, secret in made.items():
        if name == "and-teams":
            with server.client(secret) as both:
                summary = both.get("/v1/namespaces/summary?prefix=users.u1")
                assert summary.status_code == 200, summary.text
                assert [[s["namespace"], s["items"]] for s in summary.json()] == expected[:1]
            continue
        with server.client(secret) as u1:
            for prefix in ("", "?prefix=users", "?prefix=users.u1"):
                summary = u1.get(f"/v1/namespaces/summary{prefix}").json()
                assert [[s["namespace"], s["items"]] for s in summary] == expected, prefix
            mine = u1.get("/v1/namespaces/summary?prefix=users.u1.memories").json()
            assert [[s["namespace"], s["items"]] for s in mine] == expected[:1]
            stats = u1.get("/v1/stats?prefix=users.u1").json()
            assert (stats["namespaces"], stats["items"]) == (2, 3)
            for refused in ("/v1/namespaces/summary?prefix=users.u1x", "/v1/stats?prefix=users.u2"):
                assert u1.get(refused).status_code == 404

"""The inspector (``/ui``) in a real headless Chromium against a real uvicorn: sign-in,
browsing, search with scores, edit/restore, profile validation, dead-job retry, export,
purge, and a user's key kept out of another user's pages. Every page is also written as a
screenshot at 1280 and 390 px wide (build/inspector-screenshots/)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from retain.queue import RetryPolicy
from retain.testing import FakeChatModel, insert
from tests.server.conftest import ADMIN, RunningServer, screenshot, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

U1 = ["users", "u1", "memories"]
U2 = ["users", "u2", "memories"]
SCRIPT = "<script>document.title='pwned'</script> likes <b>bold</b> tea"


class Profile(BaseModel):
    """The profile schema of these tests: every kind of form field."""

    name: str | None = Field(None, description="The user's full name")
    age: int | None = Field(None, ge=0, le=150, description="Age in years")
    language: Literal["en", "fr", "de"] | None = Field(None, description="Preferred language")
    vegetarian: bool = Field(False, description="Eats no meat")
    interests: list[str] = Field(default_factory=list, description="What the user enjoys")


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _user_key(server: RunningServer, subject: str = "u1") -> str:
    with server.client() as admin:
        made = admin.post(
            "/v1/keys",
            json={
                "name": f"{subject}'s key",
                "prefixes": [["users", "{key_subject}"]],
                "permissions": ["read", "write", "admin"],
                "subject": subject,
            },
        )
        assert made.status_code == 201, made.text
        return str(made.json()["secret"])


def _put(server: RunningServer, ns: list[str], key: str, value: dict[str, Any]) -> None:
    with server.client() as admin:
        answer = admin.post("/v1/memories", json={"namespace": ns, "key": key, "value": value})
        assert answer.status_code == 200, answer.text


def _seed(server: RunningServer) -> None:
    _put(server, U1, "tea", {"content": "User likes green tea in the morning"})
    _put(server, U1, "car", {"content": "User drives a red car to work"})
    _put(server, U1, "xss", {"content": SCRIPT})
    _put(server, ["users", "u1", "notes"], "n1", {"content": "Meeting notes about the garden"})
    _put(server, U2, "diary", {"content": "u2 secret diary entry about green tea"})


def _sign_in(page: Any, server: RunningServer, secret: str) -> None:
    page.goto(f"{server.url}/ui/login")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Enter")  # the keyboard submits the form
    _expect()(page.get_by_role("heading", name="Namespaces")).to_be_visible()


@pytest.fixture
def ui_server(make_server: Callable[..., RunningServer]) -> RunningServer:
    server = make_server(mcp=False, profile_schema=Profile)
    _seed(server)
    return server


def test_sign_in_browse_search_and_scores(ui_server: RunningServer, browser_page: Any) -> None:
    expect, page, server = _expect(), browser_page, ui_server
    secret = _user_key(server)
    page.goto(f"{server.url}/ui/memories")  # not signed in: the sign-in page
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    screenshot(page, "login")
    page.get_by_label("API key").fill("rk_nope_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That key is unknown or revoked.")
    assert page.get_by_label("API key").input_value() == ""  # the key is never echoed
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/memories$"))  # back where it was going
    page.get_by_role("link", name="Namespaces").click()

    tree = page.get_by_role("list", name="Namespace tree")
    expect(tree).to_contain_text("u1")
    expect(tree.locator("li", has_text="memories").last).to_contain_text("3 memories")
    expect(tree.locator("li", has_text="notes").last).to_contain_text("1 memory")
    expect(page.locator("main")).to_contain_text("4 memories")
    expect(tree).not_to_contain_text("u2")
    expect(tree.get_by_role("link", name="users", exact=True)).to_have_count(0)  # out of reach
    expect(tree.get_by_role("link", name="u1", exact=True)).to_be_visible()
    assert secret not in page.content()
    screenshot(page, "namespaces")

    # keyboard only: the skip link first, then Tab to the namespace and Enter
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    target = tree.get_by_role("link", name="memories")
    for _ in range(40):
        if target.evaluate("e => e === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the namespace link cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("users.u1.memories")
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(3)
    # a stored <script> is text, never markup
    shown = page.locator(".memory-link", has_text="<script>document.title='pwned'</script>")
    expect(shown).to_have_text(SCRIPT)
    assert page.locator("main script, main b").count() == 0
    assert page.title() != "pwned"
    screenshot(page, "memories")

    page.get_by_label("Search").fill("green tea")
    page.get_by_label("Search").press("Enter")
    expect(page).to_have_url(re.compile(r"q=green\+tea"))
    first = rows.first
    expect(first.locator(".memory-link")).to_contain_text("green tea in the morning")
    score = float(first.locator(".score").inner_text())
    vector = float(first.locator(".vector").inner_text())
    keyword = float(first.locator(".keyword").inner_text())
    assert score > 0
    assert 0 < vector <= 1
    assert 0 < keyword <= 1
    second = float(rows.nth(1).locator(".score").inner_text())
    assert score >= second
    expect(page.locator("main")).not_to_contain_text("diary")
    screenshot(page, "memories-search")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto(f"{server.url}/ui/memories?ns=users.u1")
    expect(page).to_have_url(re.compile(r"/ui/login"))


def test_paging_through_many_memories(
    make_server: Callable[..., RunningServer], browser_page: Any
) -> None:
    expect, page = _expect(), browser_page
    server = make_server(mcp=False)
    with server.client() as admin:
        for i in range(60):
            admin.post(
                "/v1/memories",
                json={"namespace": ["users", "u1", "bulk"], "key": f"m{i:02d}", "value": {"i": i}},
            )
    _sign_in(page, server, ADMIN)
    page.goto(f"{server.url}/ui/memories?ns=users.u1.bulk")
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(25)
    seen = set(rows.locator("small").all_inner_texts())
    page.get_by_role("link", name="Next →").click()
    expect(rows).to_have_count(25)
    seen |= set(rows.locator("small").all_inner_texts())
    page.get_by_role("link", name="Next →").click()
    expect(rows).to_have_count(10)
    seen |= set(rows.locator("small").all_inner_texts())
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    assert len(seen) == 60  # every memory once, on three pages
    expect(page.get_by_role("link", name="← Previous")).to_be_visible()


def test_edit_a_memory_see_the_version_and_restore_the_old_one(
    ui_server: RunningServer, browser_page: Any
) -> None:
    expect, page, server = _expect(), browser_page, ui_server
    _sign_in(page, server, _user_key(server))
    page.goto(f"{server.url}/ui/memories?ns=users.u1.memories")
    page.get_by_role("link", name=re.compile("green tea")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("tea")
    expect(page.locator("#current-value")).to_contain_text("green tea")
    expect(page.locator("li.version")).to_have_count(1)
    screenshot(page, "memory")

    box = page.get_by_role("textbox", name=re.compile("Value"))
    box.fill("{not json")  # invalid: an error, nothing saved
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid JSON")
    box.fill(json.dumps({"content": 5, "kind": "Memory"}))  # fails the Memory schema
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("alert")).to_contain_text("Memory schema")
    with server.client() as admin:
        history = admin.get("/v1/memories/history?namespace=users.u1.memories&key=tea")
        assert len(history.json()) == 1

    box.fill(json.dumps({"content": "User likes oolong tea in the morning"}))
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("status")).to_have_text("Saved as a new version.")
    expect(page.locator("#current-value")).to_contain_text("oolong")
    versions = page.locator("li.version")
    expect(versions).to_have_count(2)
    newest = versions.first
    expect(newest.get_by_role("heading")).to_contain_text("Version 2")
    expect(newest.locator(".diff .add")).to_contain_text("oolong")
    expect(newest.locator(".diff .del")).to_contain_text("green")
    expect(newest).to_contain_text("api_key")  # provenance: which key wrote it
    screenshot(page, "memory-edited")

    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_role("status")).to_contain_text("Restored")
    expect(page.locator("#current-value")).to_contain_text("green tea")
    expect(versions).to_have_count(3)
    expect(versions.first).to_contain_text("restored_from")
    with server.client() as admin:
        got = admin.get("/v1/memories/item?namespace=users.u1.memories&key=tea").json()
        assert got["value"] == {"content": "User likes green tea in the morning"}

    page.get_by_label(re.compile("I want to delete")).check()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    expect(versions.first).to_contain_text("deleted")
    expect(versions).to_have_count(4)
    with server.client() as admin:
        gone = admin.get("/v1/memories/item?namespace=users.u1.memories&key=tea")
        assert gone.status_code == 404


def test_profile_form_validates_and_saves(ui_server: RunningServer, browser_page: Any) -> None:
    expect, page, server = _expect(), browser_page, ui_server
    _sign_in(page, server, _user_key(server))
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("u1")
    page.get_by_label("Name", exact=True).fill("Alice Chen")
    page.get_by_label("Age", exact=True).fill("200")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#e-age")).to_contain_text("less than or equal to 150")
    expect(page.get_by_label("Age", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Alice Chen")  # kept
    screenshot(page, "profile-invalid")
    page.get_by_label("Age", exact=True).fill("thirty")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#e-age")).to_have_text("Enter a whole number.")
    with server.client() as admin:
        assert admin.get("/v1/profiles/u1").json()["profile"] is None  # nothing saved

    page.get_by_label("Age", exact=True).fill("34")
    page.get_by_label("Language", exact=True).select_option("fr")
    page.get_by_label("Vegetarian", exact=True).check()
    page.get_by_label("Interests", exact=True).fill("tea\nhiking")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(page.get_by_label("Age", exact=True)).to_have_value("34")
    expect(page.locator("li.version")).to_have_count(1)
    with server.client() as admin:
        assert admin.get("/v1/profiles/u1").json()["profile"] == {
            "name": "Alice Chen",
            "age": 34,
            "language": "fr",
            "vegetarian": True,
            "interests": ["tea", "hiking"],
        }
    page.get_by_label("Language", exact=True).select_option("")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("li.version")).to_have_count(2)
    expect(page.locator("li.version").first.locator(".diff .del")).to_contain_text("fr")
    screenshot(page, "profile")


def test_retry_a_dead_job(make_server: Callable[..., RunningServer], browser_page: Any) -> None:
    expect, page = _expect(), browser_page
    model = FakeChatModel([RuntimeError("model down"), [insert("User likes green tea")]])
    server = make_server(
        model=model, mcp=False, poll_interval=0.02, retry=RetryPolicy(max_attempts=1)
    )
    secret = _user_key(server)
    with server.client(secret) as http:
        sent = http.post(
            "/v1/conversations",
            json={"namespace": U1, "messages": [{"role": "user", "content": "I like green tea"}]},
        )
        job_id = sent.json()["id"]
        wait_for(lambda: http.get(f"/v1/jobs/{job_id}").json()["state"] == "dead", "the job to die")
    _sign_in(page, server, secret)
    page.get_by_role("link", name="Jobs").click()
    dead = page.locator("#jobs-dead tbody tr")
    expect(dead).to_have_count(1)
    expect(dead).to_contain_text("model down")
    screenshot(page, "jobs")
    dead.get_by_role("button", name=f"Retry job {job_id}").click()
    expect(page.get_by_role("status")).to_have_text("Queued again.")
    expect(page.locator("#job-state")).to_have_text(re.compile("queued|running|done"))
    with server.client(secret) as http:
        wait_for(lambda: http.get(f"/v1/jobs/{job_id}").json()["state"] == "done", "the retry")
    page.reload()
    expect(page.locator("#job-state")).to_have_text("done")
    screenshot(page, "job")
    page.goto(f"{server.url}/ui/memories?ns=users.u1.memories")
    expect(page.locator("table.results")).to_contain_text("User likes green tea")
    page.locator(".memory-link").first.click()  # its provenance names the job that formed it
    provenance = page.get_by_role("region", name="Provenance")
    expect(provenance).to_contain_text("job_id (job)")
    provenance.locator(f'a[href="/ui/jobs/{job_id}"]').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Job #{job_id}")


def test_export_and_purge_with_confirmation(
    ui_server: RunningServer, browser_page: Any, tmp_path: Path
) -> None:
    expect, page, server = _expect(), browser_page, ui_server
    _sign_in(page, server, _user_key(server))
    page.get_by_role("link", name="Export and erase").click()
    expect(page.locator("main")).to_contain_text("4 memories in 2 namespaces")
    screenshot(page, "export")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download users.u1 as JSON lines").click()
    saved = tmp_path / "export.jsonl"
    downloading.value.save_as(saved)
    records = [json.loads(line) for line in saved.read_text().splitlines()]
    texts = json.dumps(records)
    assert {"tea", "car", "xss", "n1"} <= {r.get("key") for r in records}
    assert "diary" not in texts
    assert "u2" not in texts

    page.get_by_role("button", name="Erase users.u1…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("users.u1")
    expect(page.get_by_label(re.compile("Type users.u1 to confirm"))).to_be_visible()
    screenshot(page, "purge")
    page.get_by_label(re.compile("to confirm")).fill("users")  # not the prefix: refused
    page.get_by_role("button", name="Erase everything under users.u1").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was erased")
    with server.client() as admin:
        assert len(admin.get("/v1/memories?prefix=users.u1").json()) == 4
    page.get_by_label(re.compile("to confirm")).fill("users.u1")
    page.get_by_role("button", name="Erase everything under users.u1").click()
    expect(page.locator("#purge-result")).to_contain_text("Nothing is left")
    expect(page.locator("#left-items")).to_have_text("0")
    expect(page.locator("#left-namespaces")).to_have_text("0")
    screenshot(page, "export-after-purge")
    with server.client() as admin:
        assert admin.get("/v1/memories?prefix=users.u1").json() == []
        assert len(admin.get("/v1/memories?prefix=users.u2").json()) == 1  # untouched


def test_a_users_key_cannot_reach_another_users_pages(
    make_server: Callable[..., RunningServer], browser_page: Any
) -> None:
    page = browser_page
    server = make_server(mcp=False, profile_schema=Profile)  # no model: jobs stay queued
    _seed(server)
    with server.client() as admin:
        admin.patch("/v1/profiles/u2", json={"name": "u2 secret name"})
        job = admin.post(
            "/v1/conversations",
            json={"namespace": U2, "messages": [{"role": "user", "content": "u2 secret chat"}]},
        ).json()
    _sign_in(page, server, _user_key(server, "u1"))
    for path in [
        "/ui/memories?ns=users.u2",
        "/ui/memories?ns=users.u2.memories&q=diary",
        "/ui/memories?ns=users",
        "/ui/memories?ns=",
        "/ui/memory?ns=users.u2.memories&key=diary",
        "/ui/profile?user=u2",
        "/ui/export?prefix=users.u2",
        "/ui/export/download?prefix=users.u2",
        "/ui/export/download?prefix=",
        "/ui/purge?prefix=users.u2",
        f"/ui/jobs/{job['id']}",
    ]:
        answer = page.goto(server.url + path)
        assert answer.status == 404, path
        body = page.content()
        assert "secret" not in body, path
        assert "diary" not in body, path
    for path, form in [
        ("/ui/memory/edit", {"ns": "users.u2.memories", "key": "diary", "value": "{}"}),
        ("/ui/memory/restore", {"ns": "users.u2.memories", "key": "diary", "version": "1"}),
        ("/ui/memory/delete", {"ns": "users.u2.memories", "key": "diary"}),
        ("/ui/profile", {"user": "u2", "name": "taken over"}),
        ("/ui/purge", {"prefix": "users.u2", "confirm": "users.u2"}),
        (f"/ui/jobs/{job['id']}/retry", {}),
    ]:
        answer = page.request.post(
            server.url + path, form=form, headers={"Origin": server.url}, max_redirects=0
        )
        assert answer.status == 404, path
        assert "secret" not in answer.text(), path
        assert "diary" not in answer.text(), path
    page.goto(f"{server.url}/ui/jobs")
    assert "secret" not in page.content()
    assert f"#{job['id']}" not in page.content()
    page.goto(f"{server.url}/ui/namespaces")
    assert "u2" not in page.locator("main").inner_text()
    with server.client() as admin:
        assert admin.get("/v1/memories/item?namespace=users.u2.memories&key=diary").json()[
            "value"
        ] == {"content": "u2 secret diary entry about green tea"}
        assert admin.get("/v1/profiles/u2").json()["profile"]["name"] == "u2 secret name"
        assert admin.get(f"/v1/jobs/{job['id']}").json()["state"] == "queued"

"""The inspector's pages (``/ui``): server-rendered HTML over the same
:class:`~retain.server.service.Service` calls, and so the same key checks, as the REST API.

Sign-in keeps the API key in an ``HttpOnly``, ``SameSite=Strict`` cookie limited to
``/ui`` (``Secure`` over HTTPS); every request authenticates it again, so a revoked key is
out at once. Every POST must come from this origin (``Origin``, else ``Referer``), and every
form is a plain POST answered by a redirect: the pages work with the keyboard and without
JavaScript (they ship none).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from langgraph.store.base import SearchItem

from retain.core.temporal import SAID_AT, SUPERSEDED_BY, VALID_FROM, VALID_TO, holds
from retain.errors import InvalidInputError, NotFoundError
from retain.queue import JobState
from retain.server.keys import ApiKey
from retain.server.models import parse_namespace
from retain.server.service import Service
from retain.server.ui.forms import (
    namespace_tree,
    parse_memory_value,
    profile_fields,
    read_profile_form,
    timeline,
    validate_profile,
)
from retain.stores import RankedItem

__all__ = ["COOKIE", "SignInRequired", "UnsafeRequest", "render", "router"]

COOKIE = "retain_ui_key"
PAGE_SIZES = (25, 50, 100)
_HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["dotted"] = lambda ns: ".".join(ns)
_env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
_env.filters["when"] = lambda t: (
    datetime.fromtimestamp(t, timezone.utc) if isinstance(t, (int, float)) else t
).strftime("%Y-%m-%d %H:%M:%S UTC")
_env.filters["q"] = lambda s: quote(str(s), safe="")

router = APIRouter(prefix="/ui", include_in_schema=False)


class SignInRequired(Exception):
    """No, unknown or revoked key in the cookie: the page sends the browser to sign-in."""


class UnsafeRequest(Exception):
    """A POST from another origin (or without Origin and Referer): refused with 403."""


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered (autoescaped) with the signed-in key (never its secret)."""
    context.setdefault("key", getattr(request.state, "ui_key", None))
    context.setdefault("path", request.url.path)
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def signed_in(request: Request) -> ApiKey:
    """The key in the sign-in cookie, authenticated like a bearer key."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise SignInRequired()
    from retain.errors import AuthenticationError

    try:
        key = await _service(request).authenticate(secret)
    except AuthenticationError:
        raise SignInRequired() from None
    request.state.ui_key = key
    return key


def same_origin(request: Request) -> None:
    """Refuse a POST that does not come from this server's own pages (CSRF guard, on top
    of the SameSite=Strict cookie)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        raise UnsafeRequest()
    host = request.headers.get("host", "")
    if urlsplit(source).netloc.lower() != host.lower():
        raise UnsafeRequest()


Key = Annotated[ApiKey, Depends(signed_in)]
Svc = Annotated[Service, Depends(_service)]
Safe = Depends(same_origin)
NsField = Annotated[str, Form()]  # a namespace, labels joined by "."
KeyField = Annotated[str, Form(alias="key")]  # a memory's key


def _ns_text(ns: tuple[str, ...]) -> str:
    return ".".join(ns)


def _home_prefix(key: ApiKey) -> tuple[str, ...]:
    return key.scopes[0] if key.scopes else ()


def _namespace(text: str) -> tuple[str, ...]:
    from retain.stores.validation import check_namespace

    return check_namespace(parse_namespace(text.strip()), prefix=True)


_NOTICES = {
    "saved": "Saved as a new version.",
    "deleted": "Deleted (recorded in the history).",
    "restored": "Restored: the old value is now the newest version.",
    "profile": "Profile saved.",
    "retried": "Queued again.",
}


def _notice(request: Request) -> str | None:
    """The fixed message a redirect asked for (never text from the URL itself)."""
    return _NOTICES.get(request.query_params.get("done", ""))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _memory_url(ns: tuple[str, ...], item_key: str, **extra: str) -> str:
    return "/ui/memory?" + urlencode({"ns": _ns_text(ns), "key": item_key, **extra})


# -- sign-in ---------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/namespaces"


@router.get("", response_class=HTMLResponse)
async def home() -> RedirectResponse:
    return _redirect("/ui/namespaces")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", key=None, next=_safe_next(next))


@router.post("/login", dependencies=[Safe])
async def login(
    request: Request,
    service: Svc,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui/namespaces",
) -> Response:
    from retain.errors import AuthenticationError

    try:
        await service.authenticate(api_key.strip())
    except AuthenticationError:
        return render(
            request,
            "login.html",
            status=401,
            key=None,
            next=_safe_next(next),
            error="That key is unknown or revoked.",
        )
    response = _redirect(_safe_next(next))
    response.set_cookie(
        COOKIE,
        api_key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    return response


@router.post("/logout", dependencies=[Safe])
async def logout() -> Response:
    response = _redirect("/ui/login")
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


# -- namespaces ------------------------------------------------------------------------------


@router.get("/namespaces", response_class=HTMLResponse)
async def namespaces(request: Request, key: Key, service: Svc) -> HTMLResponse:
    rows = await service.summary(key, ())
    tree = namespace_tree(rows)
    for top in tree:
        for node in top.walk():
            node.readable = key.allows(node.path)  # "users" above "users.u1": no link
    return render(
        request,
        "namespaces.html",
        tree=tree,
        total=sum(int(r["items"]) for r in rows),
    )


# -- memories --------------------------------------------------------------------------------


@router.get("/memories", response_class=HTMLResponse)
async def memories(
    request: Request,
    key: Key,
    service: Svc,
    ns: str | None = None,
    q: str = "",
    mode: str = "hybrid",
    field: str = "",
    value: str = "",
    ended: bool = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 25,
) -> HTMLResponse:
    prefix = _namespace(ns) if ns is not None else _home_prefix(key)
    if mode not in ("hybrid", "vector", "keyword"):
        raise InvalidInputError("mode must be hybrid, vector or keyword.")
    query = q.strip() or None
    filt: dict[str, Any] | None = None
    if field.strip():
        try:
            wanted: Any = json.loads(value)
        except json.JSONDecodeError:
            wanted = value
        filt = {field.strip(): wanted}
    options: dict[str, Any] = {"limit": size + 1, "offset": (page - 1) * size, "filter": filt}
    if query is not None:
        options.update(mode=mode, include_superseded=ended)
    found = await service.search(key, prefix, query=query, **options)
    rows = [_row(item) for item in found[:size]]
    params = {"ns": _ns_text(prefix), "q": q, "mode": mode, "field": field, "value": value}
    if ended:
        params["ended"] = "true"
    if size != 25:
        params["size"] = str(size)
    base = "/ui/memories?" + urlencode({k: v for k, v in params.items() if v})
    return render(
        request,
        "memories.html",
        prefix=prefix,
        prefix_text=_ns_text(prefix),
        q=q,
        mode=mode,
        field=field,
        value=value,
        ended=ended,
        rows=rows,
        page=page,
        size=size,
        first=(page - 1) * size + 1,
        previous_url=f"{base}&page={page - 1}" if page > 1 else None,
        next_url=f"{base}&page={page + 1}" if len(found) > size else None,
        searched=query is not None,
    )


def _preview(value: Mapping[str, Any]) -> str:
    content = value.get("content")
    if isinstance(content, Mapping) and isinstance(content.get("content"), str):
        text = str(content["content"])
    elif isinstance(content, str):
        text = content
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def _row(item: SearchItem) -> dict[str, Any]:
    return {
        "namespace": item.namespace,
        "key": item.key,
        "preview": _preview(item.value),
        "updated_at": item.updated_at,
        "score": item.score,
        "vector": item.vector if isinstance(item, RankedItem) else None,
        "keyword": item.keyword if isinstance(item, RankedItem) else None,
        "context": item.context if isinstance(item, RankedItem) else None,
        "ended": not holds(item.value, now=datetime.now(timezone.utc)),
        "url": _memory_url(item.namespace, item.key),
    }


# -- one memory ------------------------------------------------------------------------------


async def _detail(
    request: Request,
    key: ApiKey,
    service: Service,
    ns: tuple[str, ...],
    item_key: str,
    *,
    status: int = 200,
    error: str | None = None,
    draft: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    try:
        item = await service.get(key, ns, item_key)
    except NotFoundError:
        item = None  # deleted: its history (checked the same way) may still be there
    versions = await service.history(key, ns, item_key)
    latest = versions[-1]
    value = item.value if item is not None else None
    validity = (
        {
            name: value.get(name)
            for name in (VALID_FROM, SAID_AT, VALID_TO, SUPERSEDED_BY)
            if value.get(name) is not None
        }
        if value
        else {}
    )
    return render(
        request,
        "memory.html",
        status=status,
        ns=ns,
        ns_text=_ns_text(ns),
        item_key=item_key,
        item=item,
        holds_now=None if value is None else holds(value, now=datetime.now(timezone.utc)),
        validity=validity,
        provenance=latest.provenance,
        created=versions[0].provenance,
        timeline=timeline(versions),
        current_version=latest.version if item is not None else None,
        draft=draft
        if draft is not None
        else (json.dumps(value, indent=2, ensure_ascii=False) if value else "{}"),
        error=error,
        notice=notice,
    )


@router.get("/memory", response_class=HTMLResponse)
async def memory(
    request: Request, key: Key, service: Svc, ns: str, item_key: Annotated[str, Query(alias="key")]
) -> HTMLResponse:
    notice = _notice(request)
    return await _detail(request, key, service, _namespace(ns), item_key, notice=notice)


@router.post("/memory/edit", dependencies=[Safe], response_model=None)
async def edit_memory(
    request: Request,
    key: Key,
    service: Svc,
    ns: NsField,
    item_key: KeyField,
    value: Annotated[str, Form()],
) -> Response:
    namespace = _namespace(ns)
    service.check(key, "write", namespace)  # out of scope: 404 before anything is parsed
    try:
        parsed = parse_memory_value(value)
    except InvalidInputError as e:
        return await _detail(
            request, key, service, namespace, item_key, status=400, error=str(e), draft=value
        )
    await service.put(key, namespace, item_key, parsed)
    return _redirect(_memory_url(namespace, item_key, done="saved"))


@router.post("/memory/delete", dependencies=[Safe])
async def delete_memory(key: Key, service: Svc, ns: NsField, item_key: KeyField) -> Response:
    namespace = _namespace(ns)
    await service.delete(key, namespace, item_key)
    return _redirect(_memory_url(namespace, item_key, done="deleted"))


@router.post("/memory/restore", dependencies=[Safe])
async def restore_memory(
    key: Key,
    service: Svc,
    ns: NsField,
    item_key: KeyField,
    version: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> Response:
    namespace = _namespace(ns)
    await service.restore(key, namespace, item_key, version)
    return _redirect(_memory_url(namespace, item_key, done="restored"))


# -- profile ---------------------------------------------------------------------------------


def _default_user(key: ApiKey) -> str:
    if key.subject:
        return key.subject
    for scope in key.scopes:
        if len(scope) >= 2 and scope[0] == "users":
            return scope[1]
    return ""


async def _profile_page(
    request: Request,
    key: ApiKey,
    service: Service,
    user: str,
    *,
    status: int = 200,
    submitted: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    profile = await service.profile(key, user)  # checks the key first
    try:
        history = await service.history(key, service.profiles.namespace(user), "default")
    except NotFoundError:
        history = []
    fields = profile_fields(service.profile_schema())
    shown = dict(submitted) if submitted is not None else dict(profile or {})
    return render(
        request,
        "profile.html",
        status=status,
        user=user,
        fields=fields,
        values=shown,
        errors=dict(errors or {}),
        exists=profile is not None,
        timeline=timeline(history),
        notice=notice,
    )


@router.get("/profile", response_class=HTMLResponse)
async def profile(
    request: Request, key: Key, service: Svc, user: str | None = None
) -> HTMLResponse:
    chosen = (user or "").strip() or _default_user(key)
    if not chosen:
        return render(request, "profile.html", user="", fields=[], values={}, errors={})
    notice = _notice(request)
    return await _profile_page(request, key, service, chosen, notice=notice)


@router.post("/profile", dependencies=[Safe], response_model=None)
async def save_profile(request: Request, key: Key, service: Svc) -> Response:
    form = await request.form()
    user = str(form.get("user", ""))
    current = await service.profile(key, user)  # the key's check, before anything else
    fields = profile_fields(service.profile_schema())
    submitted = {f.name: str(form.get(f.name, "")) for f in fields}
    values, errors = read_profile_form(fields, submitted)
    if not errors:
        merged = {**(current or {}), **values}
        errors = validate_profile(service.profiles.schema.schema, merged)
    if errors:
        shown: dict[str, Any] = {**values, **{n: submitted[n] for n in errors if n in submitted}}
        return await _profile_page(
            request, key, service, user, status=400, submitted=shown, errors=errors
        )
    await service.update_profile(key, user, values)
    return _redirect("/ui/profile?" + urlencode({"user": user, "done": "profile"}))


# -- jobs ------------------------------------------------------------------------------------

_JOB_STATES: tuple[JobState, ...] = ("queued", "running", "dead", "done")


@router.get("/jobs", response_class=HTMLResponse)
async def jobs(request: Request, key: Key, service: Svc) -> HTMLResponse:
    groups = {state: await service.jobs(key, state=state, limit=100) for state in _JOB_STATES}
    return render(request, "jobs.html", groups=groups, notice=_notice(request))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job(request: Request, key: Key, service: Svc, job_id: int) -> HTMLResponse:
    found = await service.job(key, job_id)
    return render(request, "job.html", job=found, notice=_notice(request))


@router.post("/jobs/{job_id}/retry", dependencies=[Safe])
async def retry_job(key: Key, service: Svc, job_id: int) -> Response:
    await service.retry(key, job_id)
    return _redirect(f"/ui/jobs/{job_id}?done=retried")


# -- export and erase ------------------------------------------------------------------------


@router.get("/export", response_class=HTMLResponse)
async def export_page(
    request: Request, key: Key, service: Svc, prefix: str | None = None
) -> HTMLResponse:
    chosen = _namespace(prefix) if prefix is not None else _home_prefix(key)
    stats = await service.stats(key, chosen)
    return render(
        request,
        "export.html",
        prefix=chosen,
        prefix_text=_ns_text(chosen),
        stats=stats,
        admin="admin" in key.permissions,
        purged=request.query_params.get("purged"),
    )


@router.get("/export/download")
async def export_download(key: Key, service: Svc, prefix: str) -> StreamingResponse:
    chosen = _namespace(prefix)
    records = service.export(key, chosen)  # checks the key (admin) before the first record

    async def lines() -> AsyncIterator[bytes]:
        async for record in records:
            yield (json.dumps(record, ensure_ascii=False) + "\n").encode()

    name = "retain-export-" + ("-".join(chosen) or "all") + ".jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{quote(name)}"'},
    )


@router.get("/purge", response_class=HTMLResponse)
async def purge_page(request: Request, key: Key, service: Svc, prefix: str) -> HTMLResponse:
    chosen = _namespace(prefix)
    if not chosen:
        raise InvalidInputError("Name a prefix to erase (the whole store cannot be erased here).")
    service.check(key, "admin", chosen)
    stats = await service.stats(key, chosen)
    return render(request, "purge.html", prefix_text=_ns_text(chosen), stats=stats)


@router.post("/purge", dependencies=[Safe], response_model=None)
async def purge(
    request: Request,
    key: Key,
    service: Svc,
    prefix: Annotated[str, Form()],
    confirm: Annotated[str, Form()] = "",
) -> Response:
    chosen = _namespace(prefix)
    if not chosen:
        raise InvalidInputError("Name a prefix to erase (the whole store cannot be erased here).")
    service.check(key, "admin", chosen)
    if confirm.strip() != _ns_text(chosen):
        stats = await service.stats(key, chosen)
        return render(
            request,
            "purge.html",
            status=400,
            prefix_text=_ns_text(chosen),
            stats=stats,
            error=f"Type {_ns_text(chosen)} exactly to confirm; nothing was erased.",
        )
    purged = await service.purge(key, chosen)
    return _redirect("/ui/export?" + urlencode({"prefix": _ns_text(chosen), "purged": purged}))

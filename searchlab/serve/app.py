"""The HTTP face of the service (aiohttp): the JSON API and the pages for people.

=====================  ======================================================================
``GET /api/search``    ``q`` (1 to 1,000 characters), ``user`` (1 to 100 printable
                       characters), ``k`` (1 to 100, default 10), ``query_id`` (optional: the
                       client's own id for the search, UBI style; 409 if the log has it);
                       any other parameter is refused. Answers ``{query_id, user,
                       experiment, arm, ranker, results: [{doc_id, title, snippet, url,
                       position}]}``; in an interleaving experiment (arm ``interleaved``,
                       ranker ``control+variant``) each result also has its ``team``
``POST /api/events``   one UBI 1.3 event or a JSON list (``searchlab.serve.events``), body at
                       most 1 MB, as ``application/json`` or ``text/plain`` (what
                       ``navigator.sendBeacon`` sends); answers ``{"accepted": n}`` once the
                       events are committed
``GET /api/experiments``  the experiments, rankers and live counts per arm
``GET /healthz``       ``{"status": "ok", ...}`` while the event writer runs, else 503
``GET /``              the search page (``?q=`` searches); the user is a cookie
``GET /doc/{doc_id}``  a document, with the "Found what I needed" button
``GET /dashboard``     the live dashboard of every experiment (``searchlab.serve.dashboard``);
                       ``experiment`` (one id) and ``looks`` (1 to 200) are optional
``GET /api/dashboard`` its numbers as JSON (what the page polls to refresh itself)
=====================  ======================================================================

Errors: a malformed request gets a 4xx answer with ``{"error": {"status", "message",
"hint"}}`` (an HTML page on the page routes), never a 500 or a traceback: bad JSON, unknown
fields, parameters or query ids, bodies over 1 MB (413), queries over 1,000 characters, a bad
``k``, an unknown path (404) or method (405). A full event queue answers 503 with
``Retry-After: 1``. Anything unforeseen is logged on the service's stderr and answered as a
JSON 500 without details.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
import uuid
from typing import Any

from aiohttp import web

from searchlab.errors import RequestError, ServiceBusy
from searchlab.serve import dashboard, pages
from searchlab.serve.events import parse_events
from searchlab.serve.service import (
    MAX_BODY_BYTES,
    SearchService,
    check_k,
    check_query,
    check_query_id,
    check_user,
    eprint,
)
from searchlab.serve.store import read_counts

USER_COOKIE = "searchlab_user"
SERVICE = web.AppKey("service", SearchService)
DASHBOARD = web.AppKey("dashboard", dashboard.LiveDashboard)
_SEARCH_PARAMS = {"q", "user", "k", "query_id"}
_JSON_TYPES = ("application/json", "text/plain", "application/octet-stream", "")
_PAGE_PREFIXES = ("/doc/", "/dashboard")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    return web.Response(
        text=_dumps(data), status=status, content_type="application/json", headers=headers
    )


def _is_page(request: web.Request) -> bool:
    return request.path == "/" or request.path.startswith(_PAGE_PREFIXES)


def _error(request: web.Request, status: int, message: str, hint: str | None = None):
    headers = {"Retry-After": "1"} if status == 503 else None
    if _is_page(request):
        return web.Response(
            text=pages.error_page(status, message, [hint] if hint else []),
            status=status,
            content_type="text/html",
            headers={**pages.SECURITY_HEADERS, **(headers or {})},
        )
    body = {"error": {"status": status, "message": message, "hint": hint}}
    return json_response(body, status, headers)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return _error(request, exc.status, exc.message, exc.hint)
    except ServiceBusy as exc:
        return _error(request, 503, exc.message, "retry after a second")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason
        if exc.status == 413:
            message = f"the body is larger than {MAX_BODY_BYTES:,} bytes"
        return _error(request, exc.status, message)
    except (asyncio.CancelledError, KeyboardInterrupt, ConnectionError):
        raise  # a client that went away: aiohttp drops the connection quietly
    except Exception:
        eprint(f"searchlab serve: unexpected error on {request.method} {request.path}")
        eprint(traceback.format_exc().rstrip())
        return _error(request, 500, "internal error (logged by the service)")


def _one(params: Any, key: str) -> str | None:
    values = params.getall(key, [])
    if len(values) > 1:
        raise RequestError(f"{key} is given {len(values)} times", hint=f"pass {key} once")
    return values[0] if values else None


async def api_search(request: web.Request) -> web.Response:
    params = request.rel_url.query
    unknown = sorted(set(params) - _SEARCH_PARAMS)
    if unknown:
        raise RequestError(
            f"unknown parameter {unknown[0]!r}", hint="parameters: q, user, k, query_id"
        )
    text = check_query(_one(params, "q"))
    user = check_user(_one(params, "user"))
    k = check_k(_one(params, "k"))
    query_id = check_query_id(_one(params, "query_id"))
    response = request.app[SERVICE].search(text, user, k, query_id)
    return web.Response(text=response.to_json(), content_type="application/json")


async def api_events(request: web.Request) -> web.Response:
    if request.content_type not in _JSON_TYPES:
        raise RequestError(
            f"content type {request.content_type!r} is not JSON",
            status=415,
            hint="send application/json",
        )
    body = await request.read()
    received_ms = time.time_ns() // 1_000_000
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise RequestError("the body is not UTF-8 text", hint="send JSON in UTF-8") from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            hint="send one UBI event object or a list of them",
        ) from None
    except (RecursionError, ValueError) as exc:
        raise RequestError(
            f"the body is not usable JSON ({exc})"[:200], hint="send plain JSON"
        ) from None
    events = parse_events(payload, now_ms=received_ms)
    accepted = await request.app[SERVICE].log.events(events, received_ms, len(body))
    return json_response({"accepted": accepted})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def api_experiments(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    counts = await asyncio.get_running_loop().run_in_executor(None, read_counts, service.log.path)
    plan = service.plan.describe()
    for experiment in plan["experiments"]:
        experiment["live"] = counts["experiments"].get(experiment["id"], {})
    stats = service.log.stats()
    return json_response(
        plan
        | {
            "rankers": service.describe_rankers(),
            "totals": counts["totals"],
            "log": stats.__dict__,
        }
    )


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    stats = service.log.stats()
    body = {
        "status": "ok" if service.log.running else "unavailable",
        "documents": len(service.index),
        "rankers": list(service.rankers),
        "queued": stats.queued,
        "uptime_seconds": round(time.time() - service.started, 1),
    }
    return json_response(body, 200 if service.log.running else 503)


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", headers=pages.SECURITY_HEADERS
    )


async def search_page(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    user = request.cookies.get(USER_COOKIE) or ""
    new_user = not user or not user.isalnum() or len(user) > 64
    if new_user:
        user = uuid.uuid4().hex
    text = request.rel_url.query.get("q")
    if text is None or not text.strip():
        page = _page(pages.search_page())
    else:
        try:
            response = service.search(check_query(text), user, 10)
            page = _page(pages.search_page(text, response))
        except RequestError as exc:
            page = _page(pages.search_page(text[:1000], error=exc.message), exc.status)
    if new_user:
        page.set_cookie(USER_COOKIE, user, max_age=365 * 86400, samesite="Lax", httponly=True)
    return page


async def document_page(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    doc_id = request.match_info["doc_id"]
    position = service.index.position(doc_id)
    if position is None:
        raise RequestError(f"no document {doc_id!r}", status=404, hint="search for one")
    query_id = request.rel_url.query.get("query_id")
    ordinal = request.rel_url.query.get("position")
    shown = None
    if query_id and len(query_id) <= 100 and ordinal and ordinal.isdigit() and len(ordinal) <= 4:
        shown = int(ordinal)
    doc = service.index.document(position)
    return _page(pages.document_page(doc, query_id if shown else None, shown))


async def _dashboard(request: web.Request, wait: float | None = None) -> Any:
    plan = request.app[SERVICE].plan.describe()["experiments"]
    chosen, looks = dashboard.dashboard_options(request.rel_url.query, plan)
    return await request.app[DASHBOARD].get(chosen, looks, wait=wait)


async def api_dashboard(request: web.Request) -> web.Response:
    return json_response((await _dashboard(request)).to_dict())


async def dashboard_page(request: web.Request) -> web.Response:
    board = await _dashboard(request, wait=dashboard.PAGE_WAIT_SECONDS)
    return _page(dashboard.render_page(board))


def _asset(text: str, content_type: str) -> Any:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(
            text=text,
            content_type=content_type,
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return handler


async def favicon(_: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


def make_app(service: SearchService) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=MAX_BODY_BYTES)
    app[SERVICE] = service
    app[DASHBOARD] = dashboard.LiveDashboard(service.log.path)
    app.router.add_get("/api/search", api_search)
    app.router.add_post("/api/events", api_events)
    app.router.add_get("/api/experiments", api_experiments)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", search_page)
    app.router.add_get("/doc/{doc_id}", document_page)
    app.router.add_get("/static/searchlab.js", _asset(pages.SCRIPT, "application/javascript"))
    app.router.add_get("/static/searchlab.css", _asset(pages.STYLE, "text/css"))
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/api/dashboard", api_dashboard)
    app.router.add_get("/static/dashboard.js", _asset(dashboard.SCRIPT, "application/javascript"))
    app.router.add_get("/static/dashboard.css", _asset(dashboard.STYLE, "text/css"))
    return app

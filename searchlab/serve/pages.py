"""The search pages for people: a query box and results, a document page, an error page.

Every piece of text that comes from a query or a document goes through ``html.escape`` (quotes
too), links carry ids in percent-encoded form, and a document's own URL becomes a link only
when it is http(s). The pages hold no inline script or style: the service sends them with a
Content-Security-Policy that allows scripts and styles from this origin only
(:data:`SECURITY_HEADERS`), so even markup that slipped through could not run.

The script (:data:`SCRIPT`, served at ``/static/searchlab.js``) logs UBI events to
``/api/events``: an ``impression`` per result shown, a ``click`` when a result is opened (with
``navigator.sendBeacon``, which survives the navigation), and a ``conversion`` when the
document page's "Found what I needed" button is pressed (with ``fetch``, so the page can say
whether it was recorded). Result links carry the query id and position to the document page,
so the conversion joins the search that led there.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

STYLE = """\
body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem;
       color: #1d2330; }
header a { color: inherit; text-decoration: none; font-weight: 700; font-size: 1.3rem; }
form.search { display: flex; gap: .5rem; margin: 1rem 0 1.5rem; }
form.search input { flex: 1; font: inherit; padding: .45rem .6rem; border: 1px solid #9aa3b5;
                    border-radius: 6px; }
button { font: inherit; padding: .45rem 1rem; border: 0; border-radius: 6px; background: #2d5bd1;
         color: white; cursor: pointer; }
button:disabled { background: #8a9bc8; cursor: default; }
ol.results { padding-left: 1.4rem; }
ol.results li { margin-bottom: 1.1rem; }
a.result { font-size: 1.08rem; color: #1a44b8; }
p.snippet { margin: .2rem 0 0; color: #454d5e; font-size: .93rem; }
p.meta, p.status { color: #6b7385; font-size: .85rem; }
article h1 { font-size: 1.35rem; }
.error { color: #a3261d; }
"""

SCRIPT = """\
(function () {
  "use strict";
  function uiEvent(action, el) {
    return {
      action_name: action,
      query_id: el.dataset.queryId,
      timestamp: new Date().toISOString(),
      event_attributes: {
        object: { object_id: el.dataset.docId, object_id_field: "doc_id" },
        position: { ordinal: Number(el.dataset.position) }
      }
    };
  }
  function beacon(events) {
    var body = JSON.stringify(events);
    if (!navigator.sendBeacon("/api/events", body)) {
      fetch("/api/events", { method: "POST", body: body, keepalive: true,
                             headers: { "Content-Type": "application/json" } });
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var results = Array.prototype.slice.call(document.querySelectorAll("a.result"));
    if (results.length) {
      beacon(results.map(function (a) { return uiEvent("impression", a); }));
    }
    results.forEach(function (a) {
      a.addEventListener("click", function () { beacon([uiEvent("click", a)]); });
    });
    var button = document.getElementById("convert");
    var status = document.getElementById("convert-status");
    if (button && button.dataset.queryId) {
      button.addEventListener("click", function () {
        button.disabled = true;
        fetch("/api/events", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify([uiEvent("conversion", button)])
        }).then(function (response) {
          return response.json().then(function (body) {
            if (response.ok) {
              status.textContent = "Thanks: noted that this answered your search.";
            } else {
              button.disabled = false;
              status.textContent = "Not recorded: " + body.error.message;
            }
          });
        }).catch(function () {
          button.disabled = false;
          status.textContent = "Not recorded: the service did not answer.";
        });
      });
    }
  });
}());
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/searchlab.css">'
        '<script src="/static/searchlab.js" defer></script></head>'
        f'<body><header><a href="/">searchlab</a></header>{body}</body></html>\n'
    )


def _search_form(query: str) -> str:
    return (
        '<form class="search" action="/" method="get" role="search">'
        f'<input type="search" name="q" value="{escape(query)}" maxlength="1000" '
        'placeholder="Search the collection" aria-label="query" autofocus>'
        '<button type="submit">Search</button></form>'
    )


def search_page(query: str = "", response: Any = None, error: str | None = None) -> str:
    """The query box, and the results of ``response`` (a ``SearchResponse``) when given."""
    parts = [_search_form(query)]
    if error is not None:
        parts.append(f'<p class="error">{escape(error)}</p>')
    if response is not None:
        if not response.results:
            parts.append(f"<p>No document matches <strong>{escape(query)}</strong>.</p>")
        else:
            items = []
            for r in response.results:
                link = doc_link(r.doc_id, response.query_id, r.position)
                items.append(
                    f'<li><a class="result" href="{escape(link)}" '
                    f'data-query-id="{escape(response.query_id)}" '
                    f'data-doc-id="{escape(r.doc_id)}" data-position="{r.position}">'
                    f"{escape(r.title or '(untitled)')}</a>"
                    f'<p class="snippet">{escape(r.snippet)}</p></li>'
                )
            parts.append(f'<ol class="results">{"".join(items)}</ol>')
            parts.append(
                f'<p class="meta">{len(response.results)} results for '
                f"<strong>{escape(query)}</strong></p>"
            )
    title = f"{query} - searchlab" if query else "searchlab"
    return _page(title, "".join(parts))


def doc_link(doc_id: str, query_id: str, position: int) -> str:
    return f"/doc/{quote(doc_id, safe='')}?" + urlencode(
        {"query_id": query_id, "position": position}
    )


def document_page(doc: Any, query_id: str | None, position: int | None) -> str:
    """A document with its "Found what I needed" button (active when reached from a search)."""
    url = ""
    if doc.url and str(doc.url).lower().startswith(("http://", "https://")):
        url = f'<p class="meta">Source: <a href="{escape(doc.url)}">{escape(doc.url)}</a></p>'
    if query_id is not None and position is not None:
        button = (
            f'<button id="convert" type="button" data-query-id="{escape(query_id)}" '
            f'data-doc-id="{escape(doc.doc_id)}" data-position="{position}">'
            "Found what I needed</button>"
        )
    else:
        button = (
            '<button id="convert" type="button" disabled>Found what I needed</button>'
            '<p class="meta">Open the document from a search to say it answered it.</p>'
        )
    body = (
        f"<article><h1>{escape(doc.title or '(untitled)')}</h1>"
        f'<p class="meta">Document {escape(doc.doc_id)}</p>{url}'
        f"<p>{escape(doc.text)}</p></article>"
        f'{button}<p id="convert-status" class="status" role="status"></p>'
    )
    return _page(doc.title or doc.doc_id, body)


def error_page(status: int, message: str, hints: Sequence[str] = ()) -> str:
    extra = "".join(f"<p>{escape(h)}</p>" for h in hints)
    return _page(
        f"{status} - searchlab", f'<p class="error">{status}: {escape(message)}</p>{extra}'
    )

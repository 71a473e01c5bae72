"""Events as clients send them: the OpenSearch User Behavior Insights (UBI) 1.3 event schema.

``POST /api/events`` takes one event object or a JSON list of them. The top-level fields are
UBI 1.3's event fields (https://o19s.github.io/ubi/schema/1.3.0/event.schema.json), and any
other field is refused, so a typo never silently drops data:

====================  ==========================================================================
field                 rule
====================  ==========================================================================
``action_name``       required; at most 100 characters. ``impression``, ``click`` and
                      ``conversion`` feed the built-in metrics; UBI's other names
                      (``click_through``, ``add_to_cart``, ``purchase``, ...) and custom names
                      are stored as they are
``query_id``          required here (UBI: optional): the ``query_id`` a search returned; an
                      unknown id is refused (HTTP 422)
``user_id``           optional; must be the user the search was made for
``client_id``         optional (UBI's browser or service id); stored
``session_id``        optional; stored
``application``       optional; stored
``timestamp``         UBI requires it; here optional (the time it arrives), ISO 8601; without
                      a zone it is read as UTC
``message_type``      optional, at most 100 characters; ``message`` at most 1,024
``event_attributes``  optional object; UBI requires ``position`` in it. ``object.object_id``
                      (text or integer) must be a result the search showed, and
                      ``position.ordinal`` (1-based) its position; other keys are kept, as UBI
                      allows
====================  ==========================================================================

Every violation is a :class:`~searchlab.errors.RequestError` naming the event and field
(``events[3].event_attributes.position.ordinal: ...``); the store checks the query ids,
users and positions against the log (:mod:`searchlab.serve.store`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from searchlab.errors import RequestError

UBI_FIELDS = (
    "action_name",
    "query_id",
    "user_id",
    "client_id",
    "session_id",
    "application",
    "timestamp",
    "message_type",
    "message",
    "event_attributes",
)
SHORT_TEXT = 100
MAX_EVENTS = 10_000  # per request (the body is at most 1 MB anyway)


@dataclass(frozen=True)
class Event:
    """One checked event, ready for the store."""

    action_name: str
    query_id: str
    timestamp: str  # ISO 8601, UTC, milliseconds, trailing Z
    ts_ms: int
    user_id: str | None = None
    client_id: str | None = None
    session_id: str | None = None
    application: str | None = None
    message_type: str | None = None
    message: str | None = None
    object_id: str | None = None
    object_id_field: str | None = None
    position: int | None = None
    event_attributes: str | None = None  # the object as sent, JSON


_SECOND = [-1, ""]  # the last second formatted (every search and event stamps one)


def utc_timestamp(ms: int) -> str:
    """``2026-11-30T12:00:00.123Z`` for milliseconds since the epoch."""
    second, rest = divmod(ms, 1000)
    last = _SECOND
    if last[0] != second:
        stamp = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        last[0], last[1] = second, stamp  # a race between threads writes the same value
    else:
        stamp = last[1]
    return f"{stamp}{rest:03d}Z"


def parse_events(payload: Any, *, now_ms: int) -> list[Event]:
    """Check a decoded JSON body (an event object or a list of them)."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise RequestError("the list holds no event", hint="send one event or a list of them")
    if len(items) > MAX_EVENTS:
        raise RequestError(
            f"{len(items):,} events in one request; at most {MAX_EVENTS:,}",
            status=413,
            hint="send them in several requests",
        )
    many = isinstance(payload, list)
    return [
        _event(item, f"events[{i}]" if many else "event", now_ms) for i, item in enumerate(items)
    ]


def _event(item: Any, where: str, now_ms: int) -> Event:
    if not isinstance(item, dict):
        raise RequestError(
            f"{where}: an event is a JSON object", hint="see the UBI 1.3 event schema"
        )
    unknown = sorted(set(item) - set(UBI_FIELDS))
    if unknown:
        raise RequestError(
            f"{where}: unknown field {unknown[0]!r}",
            hint="UBI 1.3 event fields: " + ", ".join(UBI_FIELDS),
        )
    action = _text(item, "action_name", where, required=True)
    query_id = _text(item, "query_id", where, required=True)
    ts_ms, timestamp = _timestamp(item.get("timestamp"), where, now_ms)
    object_id = object_field = position = attributes = None
    if item.get("event_attributes") is not None:
        attributes_in = item["event_attributes"]
        if not isinstance(attributes_in, dict):
            raise RequestError(f"{where}.event_attributes: must be an object", hint="see UBI 1.3")
        object_id, object_field = _object(attributes_in.get("object"), f"{where}.event_attributes")
        position = _position(attributes_in.get("position"), f"{where}.event_attributes")
        attributes = json.dumps(attributes_in, ensure_ascii=False, separators=(",", ":"))
    return Event(
        action_name=action,
        query_id=query_id,
        timestamp=timestamp,
        ts_ms=ts_ms,
        user_id=_text(item, "user_id", where),
        client_id=_text(item, "client_id", where),
        session_id=_text(item, "session_id", where),
        application=_text(item, "application", where),
        message_type=_text(item, "message_type", where),
        message=_text(item, "message", where, limit=1024),
        object_id=object_id,
        object_id_field=object_field,
        position=position,
        event_attributes=attributes,
    )


def _text(
    item: dict[str, Any], key: str, where: str, *, required: bool = False, limit: int = SHORT_TEXT
) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise RequestError(f"{where}: {key} is required", hint="see the UBI 1.3 event schema")
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise RequestError(
            f"{where}.{key}: must be text of 1 to {limit} characters", hint="see UBI 1.3"
        )
    return value


def _timestamp(value: Any, where: str, now_ms: int) -> tuple[int, str]:
    if value is None:
        return now_ms, utc_timestamp(now_ms)
    if not isinstance(value, str) or len(value) > 64:
        raise RequestError(
            f"{where}.timestamp: must be ISO 8601 text", hint="e.g. 2026-11-30T12:00:00Z"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RequestError(
            f"{where}.timestamp: {value!r} is not an ISO 8601 date-time",
            hint="e.g. 2026-11-30T12:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        ms = int(moment.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise RequestError(
            f"{where}.timestamp: out of range", hint="e.g. 2026-11-30T12:00:00Z"
        ) from None
    return ms, utc_timestamp(ms)


def _object(value: Any, where: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise RequestError(f"{where}.object: must be an object", hint="{'object_id': 'DOC_ID'}")
    object_id = value.get("object_id")
    if isinstance(object_id, bool) or not isinstance(object_id, str | int):
        raise RequestError(
            f"{where}.object.object_id: required, text or an integer", hint="the document id"
        )
    object_id = str(object_id)
    if not object_id or len(object_id) > 256:
        raise RequestError(f"{where}.object.object_id: 1 to 256 characters", hint="the document id")
    field = value.get("object_id_field")
    if field is not None and (not isinstance(field, str) or len(field) > SHORT_TEXT):
        raise RequestError(f"{where}.object.object_id_field: text", hint='e.g. "doc_id"')
    return object_id, field


def _position(value: Any, where: str) -> int | None:
    if value is None:
        raise RequestError(
            f"{where}.position: required by UBI 1.3 in event_attributes",
            hint='e.g. "position": {"ordinal": 1}',
        )
    if not isinstance(value, dict):
        raise RequestError(f"{where}.position: must be an object", hint='{"ordinal": 1}')
    if "ordinal" not in value:
        xy = value.get("xy")
        if isinstance(xy, dict) and all(
            isinstance(xy.get(c), int | float) and not isinstance(xy.get(c), bool) for c in "xy"
        ):
            return None
        raise RequestError(
            f"{where}.position: needs ordinal (1-based) or xy {{x, y}}", hint='{"ordinal": 1}'
        )
    ordinal = value["ordinal"]
    if isinstance(ordinal, bool) or not isinstance(ordinal, int) or not 1 <= ordinal <= 1_000:
        raise RequestError(
            f"{where}.position.ordinal: must be an integer from 1", hint="the result's position"
        )
    return ordinal

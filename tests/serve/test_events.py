"""UBI 1.3 events as clients send them: times normalised to UTC, attributes kept as sent."""

from __future__ import annotations

import json

import pytest

from searchlab.errors import RequestError
from searchlab.serve.events import UBI_FIELDS, parse_events

NOW = 1_780_000_000_123


def test_times_become_utc_milliseconds_and_attributes_are_kept():
    (event,) = parse_events(
        {
            "action_name": "purchase",
            "query_id": "q",
            "timestamp": "2026-11-30T12:00:00.5+02:00",
            "event_attributes": {
                "object": {"object_id": 42, "object_id_field": "isbn", "extra": [1]},
                "position": {"ordinal": 3, "page_depth": 1},
                "dwell_time": 12.5,
            },
        },
        now_ms=NOW,
    )
    assert event.timestamp == "2026-11-30T10:00:00.500Z"
    assert (event.object_id, event.object_id_field, event.position) == ("42", "isbn", 3)
    assert json.loads(event.event_attributes)["dwell_time"] == 12.5
    naive, missing = parse_events(
        [
            {"action_name": "click", "query_id": "q", "timestamp": "2018-11-13T20:20:39"},
            {"action_name": "click", "query_id": "q"},
        ],
        now_ms=NOW,
    )
    assert naive.timestamp == "2018-11-13T20:20:39.000Z"  # no zone: UTC, as UBI's example
    assert missing.ts_ms == NOW and missing.timestamp.endswith(".123Z")


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"action_name": "click", "query_id": "q", "user_id": 7}, "user_id: must be text"),
        ({"action_name": "", "query_id": "q"}, "action_name: must be text of 1 to 100"),
        (
            {"action_name": "c", "query_id": "q", "message": "m" * 1025},
            "message: must be text of 1 to 1024",
        ),
        ({"action_name": "c", "query_id": "q", "event_attributes": []}, "must be an object"),
        (
            {
                "action_name": "c",
                "query_id": "q",
                "event_attributes": {"object": {}, "position": {"ordinal": 1}},
            },
            "object_id: required",
        ),
        (
            {
                "action_name": "c",
                "query_id": "q",
                "event_attributes": {"position": {"ordinal": True}},
            },
            "ordinal: must be an integer",
        ),
        (
            {
                "action_name": "c",
                "query_id": "q",
                "event_attributes": {"position": {"xy": {"x": 1}}},
            },
            "needs ordinal (1-based) or xy",
        ),
        ({"action_name": "c", "query_id": "q", "timestamp": "9999-99-99"}, "not an ISO 8601"),
    ],
)
def test_violations_name_the_field(event, fragment):
    with pytest.raises(RequestError) as caught:
        parse_events(event, now_ms=NOW)
    assert fragment in str(caught.value) and caught.value.status == 400


def test_the_fields_are_ubi_1_3s():
    assert set(UBI_FIELDS) == {
        "application", "action_name", "query_id", "session_id", "client_id", "user_id",
        "timestamp", "message_type", "message", "event_attributes",
    }  # fmt: skip

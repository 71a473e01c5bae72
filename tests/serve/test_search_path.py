"""The search path's fast parts keep their contracts: query ids are unique UUIDv7s in time
order, and a search's JSON is exactly the standard encoding of its fields."""

from __future__ import annotations

import json
import threading
import uuid

from searchlab.serve.service import Result, SearchResponse, SearchService, new_query_id


def test_query_ids_are_unique_time_ordered_uuid7s_across_threads():
    ids: list[str] = []

    def make() -> None:
        ids.extend(new_query_id() for _ in range(3_000))  # list.extend is atomic in CPython

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 12_000 and len(set(ids)) == 12_000
    for text in ids[:500]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    first, last = new_query_id(), None
    for _ in range(5_000):  # the 48-bit millisecond prefix never goes back
        last = new_query_id()
    assert last[:13] >= first[:13]


def test_search_json_is_the_standard_encoding_of_its_fields(serve_config):
    service = SearchService.load(serve_config)
    try:
        for ranker in ("bm25", "listnet"):
            order = service.ranking(ranker, "boundary layer on a flat plate", 10)
            assert len(order) == 10
            results = [
                {
                    "doc_id": card.doc_id,
                    "title": card.title,
                    "snippet": card.snippet,
                    "url": card.url,
                    "position": position,
                }
                for position, card in enumerate(map(service._card, order), start=1)
            ]

            response = SearchResponse(
                "q-1",
                "ü",
                "exp",
                "control",
                ranker,
                tuple(Result(service._card(i), p) for p, i in enumerate(order, start=1)),
            )
            expected = {
                "query_id": "q-1",
                "user": "ü",
                "experiment": "exp",
                "arm": "control",
                "ranker": ranker,
                "results": results,
            }
            assert response.to_json() == json.dumps(
                expected, ensure_ascii=False, separators=(",", ":")
            )
            assert [r.doc_id for r in response.results] == [r["doc_id"] for r in results]
    finally:
        service.close()

"""The live service in a background thread (port 0, loopback), stopped after each test."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from searchlab.serve.service import SearchService, ServeConfig, ServiceThread


@pytest.fixture
def serve_config(search_setup, tmp_path):
    return ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=search_setup.experiments,
        events=tmp_path / "events.db",
        port=0,
    )


@pytest.fixture
def service(serve_config):
    with ServiceThread(serve_config) as running:
        yield running


@pytest.fixture
def client(service):
    with httpx.Client(base_url=service.url, timeout=30) as http:
        yield http


@pytest.fixture
def db_rows():
    """``db_rows(path, sql, *args)``: rows of a query on an event log, through a connection of
    its own (as another process would read it)."""

    def rows(path, sql, *args):
        conn = sqlite3.connect(path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    return rows


@pytest.fixture
def prepared_service(serve_config):
    """``prepared_service(**config changes)``: a loaded SearchService to hand ServiceThread."""

    def make(**changes):
        from dataclasses import replace

        return SearchService.load(replace(serve_config, **changes))

    return make

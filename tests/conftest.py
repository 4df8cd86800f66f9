"""Fixtures shared by the whole suite: the shared MAL data and a real local MongoDB-compatible server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
from pymongo.database import Database

from crawler.replica.data import shared_dir
from pipeline.embedded import LocalMongo

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data" / "mal").is_dir():
        pytest.skip(f"the shared MAL data is not at {SHARED} (set ANIMEREC_SHARED to its folder)")
    return SHARED


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMongo]:
    """One SecantusDB server for the session; each test gets its own database on it."""
    server = LocalMongo(tmp_path_factory.mktemp("mongo") / "db").start()
    yield server
    server.stop()


@pytest.fixture
def mongo_uri(mongo_server: LocalMongo) -> Iterator[str]:
    """A URI naming a fresh database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield f"mongodb://127.0.0.1:{mongo_server.port}/{name}"
    with pymongo.MongoClient(mongo_server.uri) as client:
        client.drop_database(name)


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[Database]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri)
    yield client.get_default_database()
    client.close()

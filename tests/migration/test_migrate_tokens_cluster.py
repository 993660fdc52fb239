"""``userkit db migrate-tokens --cluster`` on a real three-node Redis Cluster (issue 21, item 2).

FastAPI Users' default prefix has no hash tag, so its keys, and the user indexes the step writes,
spread over the nodes: every command names one key, and ``SCAN`` walks every primary.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from fastapi_userkit.authentication.strategy._legacy import legacy_digest
from fastapi_userkit.cli.app import app
from tests.cli import fastapi_users_schema as fu
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import EngineFactory
from tests.scale.redis_cluster import redis_cluster

pytestmark = pytest.mark.slow
PREFIX = "fastapi_users_token:"


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """A three-node Redis Cluster for this module; its nodes' ports."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield ports


@pytest.fixture
async def engine(engine_for: EngineFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncEngine:
    """FastAPI Users' tables on SQLite, named to the test app's config."""
    built = await engine_for("sqlite")
    await fu.create(built)
    monkeypatch.setenv(URL_VARIABLE, built.url.render_as_string(hide_password=False))
    monkeypatch.delenv("USERKIT_APP", raising=False)
    return built


def test_keys_spread_over_a_cluster_are_migrated(engine: AsyncEngine, cluster_ports: list[int], tmp_path: Path) -> None:
    """Twenty keys on three nodes are migrated with their TTLs, indexed, and a rerun changes nothing."""
    user_ids = [asyncio.run(fu.add_user(engine, f"knight{index}@camelot.bt")) for index in range(4)]
    tokens = {secrets.token_urlsafe(): str(user_ids[index % 4]) for index in range(20)}
    url = f"redis://127.0.0.1:{cluster_ports[0]}"

    async def seed() -> None:
        client = RedisCluster.from_url(url, decode_responses=True)
        for token, user_id in tokens.items():
            await client.set(f"{PREFIX}{token}", user_id, ex=1000)
        await client.aclose()

    async def read() -> dict[str, Any]:
        client = RedisCluster.from_url(url, decode_responses=True)
        keys = sorted([key async for key in client.scan_iter(f"{PREFIX}*")])
        indexes = {user_id: await client.smembers(f"{PREFIX}user:{user_id}") for user_id in map(str, user_ids)}
        ttls = [await client.ttl(f"{PREFIX}{legacy_digest(token)}") for token in tokens]
        await client.flushall(target_nodes=RedisCluster.PRIMARIES)
        await client.aclose()
        return {"keys": keys, "indexes": indexes, "ttls": ttls}

    asyncio.run(seed())
    command = ["--app", "tests.cli.cliapp:config", "db", "migrate-tokens", "--redis-url", url, "--cluster"]
    first = CliRunner().invoke(app, command)
    second = CliRunner().invoke(app, command)
    found = asyncio.run(read())

    assert first.exit_code == 0, first.output
    assert "20 tokens migrated, 0 already migrated" in first.stdout
    assert "0 tokens migrated, 20 already migrated" in second.stdout
    expected = {f"{PREFIX}{legacy_digest(token)}" for token in tokens} | {
        f"{PREFIX}user:{u}" for u in map(str, user_ids)
    }
    assert set(found["keys"]) == expected
    assert found["indexes"] == {
        user_id: {legacy_digest(token) for token, owner in tokens.items() if owner == user_id}
        for user_id in map(str, user_ids)
    }
    assert all(990 <= ttl <= 1000 for ttl in found["ttls"])

"""The Redis token strategy, rate limiter and session store on a real Redis Cluster (issue 22, item 2).

Three workers run the multi-worker tests again, every Redis key on a three-node cluster through
``redis.asyncio.cluster.RedisCluster``. The key prefix carries a hash tag (``{userkit}:``), so
the keys a script or a transaction touches together (a token and its user's index; a refresh
token, its session and the session's token set) hash to one slot, as Redis Cluster requires.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import CrossSlotTransactionError

from fastapi_userkit.security import RateLimitSettings
from fastapi_userkit.security.ratelimit import Hit, RedisRateLimitBackend
from fastapi_userkit.sessions import RedisSessionStore, SessionRecord
from fastapi_userkit.sessions.tokens import digest
from tests.readme_examples import run_examples
from tests.scale.conftest import Deployment, deployment
from tests.scale.redis_cluster import redis_cluster
from tests.scale.test_workers import (
    test_a_revoked_jwt_is_refused_by_every_worker,
    test_ending_one_session_is_seen_by_every_worker,
    test_logout_and_logout_all_are_seen_by_every_worker,
    test_password_change_and_deactivation_are_seen_by_every_worker,
    test_per_account_and_per_ip_budgets_hold_in_total,
    test_twenty_concurrent_refreshes_have_one_winner,
)

pytestmark = pytest.mark.slow
CLUSTER_PREFIX = "{userkit}:"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
__all__ = [
    "test_a_revoked_jwt_is_refused_by_every_worker",
    "test_ending_one_session_is_seen_by_every_worker",
    "test_logout_and_logout_all_are_seen_by_every_worker",
    "test_password_change_and_deactivation_are_seen_by_every_worker",
    "test_per_account_and_per_ip_budgets_hold_in_total",
    "test_twenty_concurrent_refreshes_have_one_winner",
]


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """A three-node Redis Cluster for this module; its nodes' ports."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield ports


@pytest.fixture(scope="module")
def deployed(cluster_ports: list[int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Three workers on PostgreSQL whose tokens, counters and sessions live on the cluster."""
    env = {
        "USERKIT_SCALE_REDIS_CLUSTER": "1",
        "USERKIT_SCALE_REDIS_URL": f"redis://127.0.0.1:{cluster_ports[0]}",
        "USERKIT_SCALE_REDIS_PREFIX": CLUSTER_PREFIX,
    }
    with deployment("redis", tmp_path_factory.mktemp("workers"), env, name="_cluster") as deployed:
        yield deployed


@pytest.fixture
async def cluster_client(cluster_ports: list[int]) -> AsyncIterator[RedisCluster]:
    """A ``RedisCluster`` client of the module's cluster (its keys are deleted afterwards)."""
    client = RedisCluster(host="127.0.0.1", port=cluster_ports[0], decode_responses=True)
    yield client
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    await client.aclose()


@pytest.mark.parametrize("prefix", ["userkit:ratelimit:", CLUSTER_PREFIX])
async def test_rate_limit_reservations_work_on_a_cluster(cluster_client: RedisCluster, prefix: str) -> None:
    """Reservations of keys on different nodes count, refuse at the limit and give back, tagged or not.

    The reservation pipelines its scripts; a cluster pipeline loads no script, so EVALSHA of a
    script a node has never seen failed there (NoScriptError) and the limiter let every request
    through (fail_open).
    """
    backend = RedisRateLimitBackend(cluster_client, prefix=prefix)
    hits = [Hit(f"login:ip:{n}", 60, limit=2) for n in range(6)]
    first = await backend.reserve(hits, now=1000.0)
    second = await backend.reserve(hits, now=1001.0)
    third = await backend.reserve(hits, now=1002.0)
    await backend.release([hit.key for hit in hits], now=1003.0, forget=[])
    fourth = await backend.reserve(hits, now=1004.0)

    assert (first.granted, second.granted, third.granted, fourth.granted) == (True, True, False, True)
    assert fourth.counters[hits[0].key].count == 2


async def test_the_readme_cluster_configuration_works(
    cluster_ports: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's cluster objects: a session rotates and lists, the limiter counts, on three nodes."""
    monkeypatch.setenv("REDIS_CLUSTER_URL", f"redis://127.0.0.1:{cluster_ports[1]}")
    namespace = run_examples("redis-cluster")
    store: RedisSessionStore = namespace["session_store"]
    settings: RateLimitSettings = namespace["rate_limits"]
    record = SessionRecord(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        created_at=NOW,
        last_used_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        ip_address=None,
        user_agent=None,
        credential="c",
    )
    await store.create(record, digest("parent"))
    rotated = await store.rotate(
        record.id, digest("parent"), digest("child"), now=NOW, ip_address=None, user_agent=None
    )
    again = await store.rotate(record.id, digest("parent"), digest("other"), now=NOW, ip_address=None, user_agent=None)
    listed = await store.list_for_user(record.user_id)
    reservation = await settings.backend.reserve([Hit("login:ip:x", 60, limit=1)], now=1000.0)  # type: ignore[attr-defined]
    await namespace["cluster"].aclose()

    assert (rotated, again) == (True, False)
    assert [row.id for row in listed] == [record.id]
    assert reservation.granted


async def test_the_session_store_needs_a_hash_tag_on_a_cluster(cluster_client: RedisCluster) -> None:
    """Without a hash tag in the prefix, a session's keys land on different slots and its creation is refused.

    What the README asks for (a tagged prefix) is needed: a transaction may not span slots.
    """
    store = RedisSessionStore(cluster_client, key_prefix="untagged:session:")
    record = SessionRecord(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        created_at=NOW,
        last_used_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        ip_address=None,
        user_agent=None,
        credential="c",
    )

    with pytest.raises(CrossSlotTransactionError):
        await store.create(record, digest("parent"))

"""``AccessTokenProtocol``: FastAPI Users' plain attributes, so token models may subclass it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from fastapi_userkit.authentication.strategy import AccessTokenProtocol


@dataclasses.dataclass
class DataclassToken(AccessTokenProtocol[uuid.UUID]):
    """A token model written as FastAPI Users' docs and tests write one: a dataclass subclassing the protocol."""

    token: str
    user_id: uuid.UUID
    created_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))


def test_a_dataclass_subclassing_the_protocol_sets_every_member() -> None:
    """A dataclass subclass of the protocol is built with ``user_id`` like any other field (issue 16, item 10)."""
    user_id = uuid.uuid4()

    token = DataclassToken("digest", user_id)
    token.user_id = uuid.UUID(int=1)

    assert (token.token, token.user_id) == ("digest", uuid.UUID(int=1))
    assert DataclassToken("digest", user_id).user_id == user_id

"""Crossmint's frozen copies (records.py): a long list is read on the loop and rendered in a worker
thread from copies that the requests changing the stored objects meanwhile do not reach."""

import dataclasses
import inspect
from decimal import Decimal

import orjson
import pytest
from sandbox.core.verification import Session
from sandbox.providers.crossmint import models
from sandbox.providers.crossmint.records import Frozen, _shape
from sandbox.providers.crossmint.routes import _array


def allowance(n: int) -> models.Allowance:
    rails = [models.Rail("agentic-token", "vic", "active", ("card",)), models.Rail("encrypted-card", None, "active", ("card",))]
    return models.Allowance(
        f"oi_{n}", "pm_1", "active", Decimal("25.00"), "USD", "Sneakers", {"name": "Shop"}, rails, "visa", "424242", "4242",
        {"month": "12", "year": "2030"}, "2026-01-01T00:00:00.000Z", 0.0, "2026-09-24T12:00:00.000Z", 1.0, "key_test_x", "alw_1",
        Session("visa_passkey", "happy-path", f"oi_{n}", "orderIntentId"), [models.Reservation("c1", "spt", Decimal("10.00"), 1.0)],
    )


def test_a_copy_renders_the_object_as_it_was_frozen():
    stored = [allowance(1), models.Agent("agt_1", {"name": "Shopper"}, "2026-01-01T00:00:00.000Z", "agt_bt1"), allowance(2)]
    before = [obj.to_wire() for obj in stored]
    frozen = Frozen(stored)
    # What other requests do meanwhile: moves, a credential, a rail that fails, a session that goes on, a renamed agent.
    stored[0].status = "cancelled"
    stored[0].reservations[0].state = "captured"
    stored[0].reservations.append(models.Reservation("c2", "spt", Decimal("5.00"), 2.0))
    stored[0].rails[0].status, stored[0].rails[0].error_code = "error", "CARD_NOT_ELIGIBLE"
    assert stored[0].session is not None
    stored[0].session.history.append("START")
    stored[1].metadata = {"name": "Renamed"}
    copies = frozen.thaw()
    assert [obj.to_wire() for obj in copies] == before != [obj.to_wire() for obj in stored]
    assert copies[0].reservations is not stored[0].reservations and copies[0].reservations[0] is not stored[0].reservations[0]
    assert copies[0].session is not None and copies[0].session.history == []


def test_the_array_is_the_bytes_of_the_whole_list():
    stored = [allowance(n) for n in range(1300)]  # more than two chunks, the last one short
    assert orjson.dumps(_array(stored)) == orjson.dumps([obj.to_wire() for obj in stored])
    assert orjson.dumps(_array([])) == b"[]"


@pytest.mark.parametrize("cls", [
    cls for _, cls in inspect.getmembers(models, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == models.__name__ and not cls.__dataclass_params__.frozen
])
def test_every_stored_crossmint_object_can_be_frozen(cls):
    """A field holding a mutable dataclass other than directly or in a list would be shared with the
    thread: refused when the class is first frozen, so here rather than on a request."""
    _shape(cls)

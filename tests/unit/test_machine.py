"""`Machine`: a lifecycle table decides every move; a forbidden move changes nothing."""

from dataclasses import dataclass

import pytest
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition, transition


@dataclass
class Order:
    id: str
    phase: str  # the state lives under another name than `status`


TABLE = {
    "pay": transition("open", "paid", "order.paid", "pay"),
    "cancel": transition("open paid", "cancelled", "order.cancelled", "cancel"),
    "archive": transition("cancelled", "archived", None, "archive"),  # a move that announces nothing
}


def refuse(order: Order, move: Transition) -> SandboxError:
    return SandboxError(ErrorKind.INVALID_STATE, f"cannot {move.verb} {order.id} in {order.phase}; needs {sorted(move.sources)}")


MACHINE = Machine(TABLE, state="phase", refuse=refuse)


def test_transition_splits_its_sources_on_spaces():
    move = transition("open  paid\tpending", "cancelled", "order.cancelled", "cancel")
    assert move == Transition(frozenset({"open", "paid", "pending"}), "cancelled", "order.cancelled", "cancel")
    assert transition("open", "paid", None).verb == ""


def test_an_allowed_move_sets_the_state_and_returns_its_event():
    order = Order("o1", "open")
    assert MACHINE.can(order, "pay")
    assert MACHINE.apply(order, "pay") == "order.paid"
    assert order.phase == "paid"
    assert MACHINE.apply(order, "cancel") == "order.cancelled"  # one of two sources
    assert order.phase == "cancelled"


def test_a_move_without_event_still_moves():
    order = Order("o2", "cancelled")
    assert MACHINE.apply(order, "archive") is None
    assert order.phase == "archived"


@pytest.mark.parametrize(("phase", "action"), [("paid", "pay"), ("cancelled", "cancel"), ("open", "archive"), ("archived", "pay")])
def test_a_forbidden_move_raises_the_refusal_and_changes_nothing(phase, action):
    order = Order("o3", phase)
    assert not MACHINE.can(order, action)
    with pytest.raises(SandboxError) as caught:
        MACHINE.apply(order, action)
    assert caught.value.kind is ErrorKind.INVALID_STATE
    assert caught.value.message.startswith(f"cannot {TABLE[action].verb} o3 in {phase}")
    assert order.phase == phase


def test_check_returns_the_transition_without_moving():
    order = Order("o4", "paid")
    assert MACHINE.check(order, "cancel") is TABLE["cancel"]
    assert order.phase == "paid"
    with pytest.raises(SandboxError):
        MACHINE.check(order, "pay")
    assert order.phase == "paid"


def test_an_unknown_action_is_a_programming_error_not_a_refusal():
    with pytest.raises(KeyError):
        MACHINE.can(Order("o5", "open"), "refund")

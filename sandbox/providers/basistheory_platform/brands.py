"""Card brands as Basis Theory names them on the wire.

`sandbox.core.cards.brand` gives neutral names (`amex`, `diners`); Basis Theory's card tokens,
agentic objects and events use its own ids, those of `CardBrandId` in @basis-theory/basis-theory-js
4.30.2 (`types/elements/cardTypes.d.ts`): `american-express`, `diners-club`, `discover`, `elo`,
`hiper`, `hipercard`, `jcb`, `maestro`, `mastercard`, `mir`, `unionpay`, `visa`.
"""

from __future__ import annotations

_NAMES = {"amex": "american-express", "diners": "diners-club"}


def brand_name(neutral: str) -> str:
    """Basis Theory's id for a brand named by `core.cards.brand` (or already Basis Theory's)."""
    return _NAMES.get(neutral, neutral)

"""Card numbers: Luhn, brand from the BIN, expiry. Shared by every provider that takes cards."""

from __future__ import annotations

from datetime import datetime

# (brand, prefix ranges as (low, high) over the first `digits` digits, allowed lengths)
_BRANDS: tuple[tuple[str, int, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("amex", 2, ((34, 34), (37, 37)), (15,)),
    ("diners", 2, ((36, 36), (38, 39)), (14, 16)),
    ("diners", 3, ((300, 305),), (14, 16)),
    ("jcb", 4, ((3528, 3589),), (16, 17, 18, 19)),
    ("mastercard", 2, ((51, 55),), (16,)),
    ("mastercard", 4, ((2221, 2720),), (16,)),
    ("discover", 4, ((6011, 6011),), (16, 17, 18, 19)),
    ("discover", 3, ((644, 649),), (16, 17, 18, 19)),
    ("discover", 2, ((65, 65),), (16, 17, 18, 19)),
    ("unionpay", 2, ((62, 62),), (16, 17, 18, 19)),
    ("visa", 1, ((4, 4),), (13, 16, 19)),
)


def luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand(number: str) -> str | None:
    """The card network for a number, or None when no known range matches."""
    for name, digits, ranges, lengths in _BRANDS:
        prefix = int(number[:digits])
        if len(number) in lengths and any(low <= prefix <= high for low, high in ranges):
            return name
    return None


def with_check_digit(partial: str) -> str:
    """Append the Luhn check digit to `partial`."""
    for digit in "0123456789":
        if luhn_ok(partial + digit):
            return partial + digit
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def issue(brand: str, digits: str) -> tuple[str, str]:
    """A Luhn-valid one-time card number of `brand` and its CVC, drawn from `digits`
    (a long enough string of random digits, so that the sandbox seed decides them)."""
    prefix, length, cvc_length = {"mastercard": ("52", 16, 3), "amex": ("37", 15, 4)}.get(brand, ("4", 16, 3))
    return with_check_digit(prefix + digits[: length - len(prefix) - 1]), digits[-cvc_length:]


def number_problem(number: str) -> str | None:
    """Why a card number is unusable, or None."""
    if not (number.isascii() and number.isdigit()) or not 12 <= len(number) <= 19:
        return "must be 12 to 19 digits"
    if not luhn_ok(number):
        return "fails the Luhn check"
    return None


def expiry_problem(month: int, year: int, now: datetime) -> str | None:
    """Why an expiry is unusable at `now`, or None. A card is valid through its expiry month."""
    if not 1 <= month <= 12:
        return "month must be 1 to 12"
    if (year, month) < (now.year, now.month):
        return "card has expired"
    if year > now.year + 50:
        return "year is too far in the future"
    return None

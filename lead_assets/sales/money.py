"""Prices: Decimal (DECIMAL(10, 2) in DuckDB); floats, NaN, negatives and sub-cent amounts are refused."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lead_assets.sales.errors import SalesError

MAX_PRICE = Decimal("99999999.99")          # DECIMAL(10, 2)
CENT = Decimal("0.01")


def parse_money(value, *, what: str = "price", allow_zero: bool = False) -> Decimal:
    """'25', '25.00', '$25.00', Decimal('25') or 25 -> Decimal('25.00'). Never a float."""
    if isinstance(value, bool):
        raise SalesError(f"{what} must be text or a Decimal, not {value!r}")
    if isinstance(value, float):
        raise SalesError(f"{what} must be text or a Decimal, not the float {value!r} (write '25.00')")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        bare = text.lstrip("+-").lstrip("$")
        if bare.lower() in ("nan", "snan", "inf", "infinity"):
            raise SalesError(f"{what} {value!r} is not an amount of money")
        if not re.fullmatch(r"[+-]?\$?\d+(\.\d+)?", text):
            raise SalesError(f"{what} {value!r} is not money; write digits with an optional cents part, "
                             "e.g. 25 or 25.00")
        try:
            amount = Decimal(text.replace("$", ""))
        except InvalidOperation:
            raise SalesError(f"{what} {value!r} is not money") from None
    else:
        raise SalesError(f"{what} must be text or a Decimal, not {type(value).__name__}")
    if not amount.is_finite():
        raise SalesError(f"{what} {value!r} is not an amount of money")
    if amount < 0:
        raise SalesError(f"{what} {value!r} is negative")
    if amount == 0 and not allow_zero:
        raise SalesError(f"{what} must be more than zero")
    if amount > MAX_PRICE:
        raise SalesError(f"{what} {value!r} is too large (at most {MAX_PRICE})")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        raise SalesError(f"{what} {value!r} has more than two decimal places (cents)")
    return amount.quantize(CENT)


def money(amount: Decimal | None) -> str:
    return "-" if amount is None else f"${amount:,.2f}"

"""Amounts of money: always ``Decimal``, always to the cent, one rounding rule.

The backend sends amounts as strings (``"35.00"``); the assistant shows them
with thousands separators (``"1,234.00"``).  Both quantize here, the same way,
so a figure a resident reads is the figure the backend stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Union

CENT = Decimal("0.01")


def to_cents(value: Union[Decimal, int, str]) -> Decimal:
    """``value`` as a Decimal rounded to the cent."""
    return Decimal(value).quantize(CENT)


def wire_amount(value: Union[Decimal, int, str]) -> str:
    """The API's spelling of an amount: ``"1234.00"``."""
    return str(to_cents(value))


def display_amount(value: Union[Decimal, int, str]) -> str:
    """An amount as residents read it: ``"1,234.00"``."""
    return f"{to_cents(value):,.2f}"

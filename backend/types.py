"""Column types shared by the models and the migrations.

Money is exact everywhere: ``NUMERIC(12, 2)`` on PostgreSQL, and integer fen
(cents) on SQLite, whose NUMERIC affinity would silently store a float.
Migrations import this module, so keep it stable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import Integer, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from common.money import CENT


class Money(TypeDecorator):
    """A non-negative amount in yuan with two decimals, as ``Decimal``."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """SQLite has no exact decimal type: store whole fen there, NUMERIC
        elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Optional[Decimal], dialect: Dialect) -> Any:
        """Round to the cent before storing; integer fen on SQLite."""
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT)
        if dialect.name == "sqlite":
            return int(amount * 100)
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Optional[Decimal]:
        """Read back as a two-decimal ``Decimal`` whatever the database stored."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)

"""Which slice of a list a caller asked for (plain values, no HTTP), and reading that slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession

RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class Page:
    """Page ``number`` (from 1) of ``size`` items."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def read_page(
    db: DbSession,
    statement: Select[RowT],
    ordering: tuple[ColumnElement[Any] | InstrumentedAttribute[Any], ...],
    page: Page,
) -> tuple[list[RowT], int]:
    """The rows of ``page`` of ``statement`` in ``ordering`` (its last term a unique key, so pages
    never overlap), and how many rows there are in all."""
    total = db.scalar(select(func.count()).select_from(statement.subquery())) or 0
    items = list(db.scalars(statement.order_by(*ordering).offset(page.offset).limit(page.size)))
    return items, total

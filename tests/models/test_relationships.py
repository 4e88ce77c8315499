"""Every `relationship()` of the app's models is `lazy="raise"` (STYLE.md, "Models").

Under asyncio an implicit lazy load is a `MissingGreenlet` error at best and an N+1 at
worst; a relationship is loaded explicitly (`selectinload`, `joinedload`) where it is used.
"raise_on_sql" is accepted too: it allows only loads the identity map answers without SQL.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship

from app.models import Base
from tests.core.models import CoreTestBase

RAISING = frozenset({"raise", "raise_on_sql"})


def implicit_loads(registries: list[registry]) -> list[str]:
    """`Class.attribute (lazy=...)` of every relationship that may load implicitly."""
    found = []
    for reg in registries:
        reg.configure()  # backrefs exist only once the mappers are configured
        for mapper in reg.mappers:
            found += [
                f"{mapper.class_.__name__}.{rel.key} (lazy={rel.lazy!r})"
                for rel in mapper.relationships
                if rel.lazy not in RAISING
            ]
    return sorted(found)


def test_every_relationship_of_the_app_raises_on_implicit_load() -> None:
    assert Base.registry.mappers, "the walk must see the app's models"
    assert implicit_loads([Base.registry]) == []


def test_the_core_test_models_relationships_are_walked_and_raise() -> None:
    """Not vacuous: the core's test models do have relationships, and the walk sees them."""
    relationships = [r for m in CoreTestBase.registry.mappers for r in m.relationships]
    assert sorted(r.key for r in relationships) == ["comments", "note"]
    assert implicit_loads([CoreTestBase.registry]) == []


def test_the_walk_finds_a_relationship_that_loads_implicitly() -> None:
    """A throwaway declarative base of its own (never the app's Base or metadata): the
    default, an explicit eager strategy and a backref's default are all reported."""

    class Throwaway(DeclarativeBase):
        pass

    class Parent(Throwaway):
        __tablename__ = "throwaway_parents"
        id: Mapped[int] = mapped_column(primary_key=True)
        children: Mapped[list[Child]] = relationship(back_populates="parent")  # lazy="select"
        eager: Mapped[list[Child]] = relationship(lazy="selectin", viewonly=True)
        guarded: Mapped[list[Child]] = relationship(lazy="raise_on_sql", viewonly=True)

    class Child(Throwaway):
        __tablename__ = "throwaway_children"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(ForeignKey("throwaway_parents.id"))
        parent: Mapped[Parent] = relationship(back_populates="children", lazy="raise")
        sibling: Mapped[Parent] = relationship(
            backref="siblings", lazy="raise", viewonly=True, foreign_keys=[parent_id]
        )

    assert implicit_loads([Throwaway.registry]) == [
        "Parent.children (lazy='select')",
        "Parent.eager (lazy='selectin')",
        "Parent.siblings (lazy='select')",
    ]
    assert not {Parent, Child} & {m.class_ for m in Base.registry.mappers}
    assert "throwaway_parents" not in Base.metadata.tables

"""Describe metadata of an sObject: the facts validation and matching rely on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

NUMERIC_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
ID_TYPES = frozenset({"id", "reference"})


@dataclass(frozen=True)
class FieldDescribe:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    filterable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create


@dataclass(frozen=True)
class ObjectDescribe:
    name: str
    key_prefix: str
    fields: tuple[FieldDescribe, ...]
    label: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True

    @cached_property
    def _by_lower_name(self) -> dict[str, FieldDescribe]:
        by_name: dict[str, FieldDescribe] = {}
        for f in self.fields:
            by_name.setdefault(f.name.lower(), f)
        return by_name

    def field(self, name: str) -> FieldDescribe | None:
        """The field called `name`; API names are case-insensitive, as in Salesforce."""
        return self._by_lower_name.get(name.lower())

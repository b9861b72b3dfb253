"""The standard org's objects: describe metadata vendored from real describe responses (see describe/PROVENANCE.md).

Each object is one JSON file under describe/, in Salesforce's REST describe shape (a subset of its keys),
read with the same parser that reads a live org's describe.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from adapters.memory.describe_json import describe_from_json, describe_json, global_describe_json
from core.describe import ObjectDescribe
from core.describe_rest import describe_from_rest

# Catalog order: the order of Describe Global and of the memory org's tables.
CATALOG_OBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Case", "User", "RecordType", "Subscription__c")


def vendored_json(object_name: str) -> dict[str, Any]:
    """The vendored describe of one catalog object, as stored in describe/<object_name>.json."""
    path = resources.files("adapters.memory").joinpath("describe", f"{object_name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


STANDARD_CATALOG: dict[str, ObjectDescribe] = {
    name: describe_from_rest(vendored_json(name)) for name in CATALOG_OBJECTS}

__all__ = ["CATALOG_OBJECTS", "STANDARD_CATALOG", "vendored_json", "describe_json", "describe_from_json",
           "global_describe_json"]

"""What the org answers: per-record save results and whole-request errors, with Salesforce's wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.ports import RecordRefusal

NOT_FOUND_MESSAGE = "The requested resource does not exist"
DELETED_MESSAGE = "entity is deleted"
_CUSTOM_HINT = ("If you are attempting to use a custom {what}, be sure to append the '__c' after the {where}. "
                "Please reference your WSDL or the describe call for the appropriate names.")


class OrgError(Exception):
    """A failure of a whole request (unknown object, bad query field, missing record on a read).

    `status` is the HTTP status real Salesforce answers with, so the emulator can reply as-is.
    """

    def __init__(self, code: str, message: str, fields: tuple[str, ...] = (), status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.fields, self.status = code, message, tuple(fields), status

    @property
    def refusal(self) -> RecordRefusal:
        return RecordRefusal(self.code, self.message, self.fields, self.status)

    def body(self) -> list[dict[str, Any]]:
        """The top-level REST error body: a JSON array of {message, errorCode, fields}."""
        return [{"message": self.message, "errorCode": self.code, "fields": list(self.fields)}]


@dataclass(frozen=True)
class SaveResult:
    """One record's result of a write, like a SaveResult / UpsertResult / DeleteResult.

    `id` is empty on a failed create, and set on updates and deletes even when they fail.
    `matched_ids` is set when an upsert key matched several records: nothing was written, and a
    single-record REST upsert answers 300 with those records.
    """

    success: bool
    id: str = ""
    created: bool = False
    errors: tuple[RecordRefusal, ...] = ()
    matched_ids: tuple[str, ...] = ()
    # DUPLICATES_DETECTED: the duplicates a duplicate rule matched, and the duplicateResult REST adds.
    duplicates: tuple[str, ...] = ()
    duplicate_result: dict[str, Any] | None = None

    @property
    def error(self) -> RecordRefusal | None:
        return self.errors[0] if self.errors else None

    def to_json(self, with_created: bool = False) -> dict[str, Any]:
        """The sObject Collections element; `created` only for upserts."""
        out: dict[str, Any] = {"id": self.id} if self.id else {}
        out["success"] = self.success
        out["errors"] = [{"statusCode": e.code, "message": e.message, "fields": list(e.fields)} for e in self.errors]
        if self.duplicate_result is not None and out["errors"]:
            out["errors"][0]["duplicateResult"] = self.duplicate_result
        if with_created:
            out["created"] = self.created
        return out


def failed(code: str, message: str, fields: tuple[str, ...] = (), record_id: str = "") -> SaveResult:
    return SaveResult(False, record_id, errors=(RecordRefusal(code, message, fields),))


def unknown_object_in_query(name: str) -> OrgError:
    hint = _CUSTOM_HINT.format(what="object", where="entity name")
    return OrgError("INVALID_TYPE", f"sObject type '{name}' is not supported. {hint}")


def unknown_column_in_query(field: str, object_name: str) -> OrgError:
    hint = _CUSTOM_HINT.format(what="field", where="custom field name")
    return OrgError("INVALID_FIELD", f"No such column '{field}' on entity '{object_name}'. {hint}")


def not_filterable(field: str) -> OrgError:
    return OrgError("INVALID_FIELD", f"field '{field}' can not be filtered in a query call")


def no_such_external_id_field(field: str) -> OrgError:
    return OrgError("NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}",
                    status=404)


# Salesforce's refusal of a Bulk API hardDelete job to a user without the "Bulk API Hard Delete" system permission
# (errorCode FEATURENOTENABLED; see tools/emulator/BULK_FACTS.md for where this comes from).
HARD_DELETE_REFUSED = ("hardDelete operation requires special user profile permission, please contact your system "
                       "administrator")

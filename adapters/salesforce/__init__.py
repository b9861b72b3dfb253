"""The Salesforce REST adapter: SalesforceBackend opens a RecordStore per connection."""

from adapters.salesforce.backend import SalesforceBackend
from adapters.salesforce.store import SalesforceStore

__all__ = ["SalesforceBackend", "SalesforceStore"]

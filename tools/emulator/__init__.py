"""A Salesforce REST API emulator (OAuth, query, sObjects, collections, Bulk 2.0, faults) on the in-memory Org."""

from tools.emulator.server import CLIENT_ID, CLIENT_SECRET, PASSWORD, REFRESH_TOKEN, SECURITY_TOKEN, USERNAME, Emulator

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "PASSWORD", "REFRESH_TOKEN", "SECURITY_TOKEN", "USERNAME", "Emulator"]

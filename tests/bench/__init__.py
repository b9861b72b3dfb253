"""`make bench`: sfdest over gRPC against the Salesforce emulator, beside the per-event baseline it replaces."""

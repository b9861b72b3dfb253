"""Adapters of core's coordination port (core.coordination.KeyLeases)."""

"""sfdest core: the framework-free domain (standard library only)."""

"""Task families: one module each, registered in :mod:`tasksuite.registry`."""

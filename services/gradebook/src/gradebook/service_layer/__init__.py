"""Command handlers: load, decide, save in one unit of work."""

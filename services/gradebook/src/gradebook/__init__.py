"""Gradebook service: the class journal teachers keep and the diary parents read."""

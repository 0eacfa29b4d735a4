"""Tells each guardian what happened in the diary, once, the way they asked."""

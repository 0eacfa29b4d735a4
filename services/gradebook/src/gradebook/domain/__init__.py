"""The school domain of the class journal: decisions without I/O."""

"""Applications: parents' access applications per child, the school's decision, consents and links."""

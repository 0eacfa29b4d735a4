"""Adapters between the domain and PostgreSQL / Kafka."""

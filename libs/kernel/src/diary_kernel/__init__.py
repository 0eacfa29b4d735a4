"""The event-sourcing kernel every diary service is built on, written once."""

"""What a guardian is told and when: notices, their letters and feed items, preferences. No I/O."""

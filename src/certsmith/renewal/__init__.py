"""renewal."""

"""grants layer."""

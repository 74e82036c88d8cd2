"""Node specs: io (to be filled)."""

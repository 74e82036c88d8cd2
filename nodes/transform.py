"""Node specs: transform (to be filled)."""

"""Node specs: merge (to be filled)."""

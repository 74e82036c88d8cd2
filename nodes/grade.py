"""Node specs: grade (to be filled)."""

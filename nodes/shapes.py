"""Node specs: shapes (to be filled)."""

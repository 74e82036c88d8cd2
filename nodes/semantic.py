"""Node specs: semantic (to be filled)."""

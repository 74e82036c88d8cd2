"""Node specs: inpaint (to be filled)."""

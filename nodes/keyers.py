"""Node specs: keyers (to be filled)."""

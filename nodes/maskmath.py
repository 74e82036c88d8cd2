"""Node specs: maskmath (to be filled)."""

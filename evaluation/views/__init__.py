"""Pages of the evaluation app (thin adapters over services and selectors)."""

"""Models of the deploy app."""

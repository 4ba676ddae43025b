"""Models of the training_jobs app."""

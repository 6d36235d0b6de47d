"""Training the extractors this project ships with its own code (no downloads)."""

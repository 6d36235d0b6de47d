"""Feature extractors F(x): images -> attribute scores."""

"""Hits -> evidence -> prompt -> generation -> verified citations -> Answer; chat follow-ups."""

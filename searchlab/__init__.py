"""searchlab: crawl a corpus, learn to rank it, and prove the new ranker wins with an A/B test."""

__version__ = "0.1.0"

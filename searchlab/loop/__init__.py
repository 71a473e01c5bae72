"""The loop: a local site to crawl, simulated users, and the end-to-end demo with its report."""

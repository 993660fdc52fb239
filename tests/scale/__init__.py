"""Several real worker processes, a Redis Cluster and store outages (issue 22)."""

"""`make bench`: the kernel's throughput and latency, each against a raw baseline in the same run."""

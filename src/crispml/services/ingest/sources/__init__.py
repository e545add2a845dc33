"""Where a load's rows come from: files (lake or local) and SQL databases, read a batch at a time."""

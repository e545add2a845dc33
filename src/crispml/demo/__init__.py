"""``crispml demo``: the CRISP-DM loop on a real data set, one phase per capability."""

"""Analysis of sealed bundles: error signatures, onset, change correlation, checklist."""

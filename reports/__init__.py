"""Post-mortem drafting (later issue)."""

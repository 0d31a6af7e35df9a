"""Prices, allowances, consent and usage (SPEC §12)."""

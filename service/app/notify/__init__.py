"""Telling others: the webhook outbox and staff alerts."""

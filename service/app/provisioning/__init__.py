"""Handing approved tickets to provisioning and following them to the end; the periodic sweep."""

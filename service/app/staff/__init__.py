"""The staff console's read side: the queue and the ticket page."""

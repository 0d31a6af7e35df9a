"""The change calendar: windows, the rules of time at filing and hand-off, the calendar and its feed."""

"""Safety alerts: a record someone on the care team acknowledges (who, when, note), notified
by push and repeated to the next contact while nobody has."""

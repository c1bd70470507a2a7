"""Read models: one projection per read model, and the tables they write."""

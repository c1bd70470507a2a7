"""Query and mutation resolvers, dataloaders and authorization checks."""

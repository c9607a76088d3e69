"""HTTP side: route tables, thin handlers, the error and auth middleware."""

"""The event model: type names, the field table, coercion, normalisation and enrichment."""

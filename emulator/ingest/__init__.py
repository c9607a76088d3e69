"""Ingest: request intake and the asynchronous batch processor."""

"""Ingestion: knowledge-base documents to heading-aware chunks in Chroma."""

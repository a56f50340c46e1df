"""Answers: hybrid retrieval, extractive composition with citations, templates and disclaimers."""

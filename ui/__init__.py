"""Serving answers: Gradio web chat, JSON API and a Slack bot in one FastAPI process."""

"""The shared basics every area uses: settings, errors, the provider registry and the text-unit rules.

This package imports nothing of the project; every other package may import it.
"""

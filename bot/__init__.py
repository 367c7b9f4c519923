"""Shebao Assistant: the project's own package (language layer, channels, helpers)."""

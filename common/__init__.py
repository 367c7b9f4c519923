"""Helpers shared by every deployable: ID numbers, redaction, language, text, settings.

Nothing here imports Rasa, Sanic or a database driver, so the contribution
backend, the action server, the Rasa plug-ins and the tools can all use it.
"""

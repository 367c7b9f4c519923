"""The web-widget demo server: serves the embeddable chat widget and a demo page.

``python -m web`` runs it; :func:`web.app.create_app` builds the app.
Importing this package creates no app and touches neither network nor disk.
"""

"""The staff review console: transcripts, annotations, exports, follow-ups.

Its own deployable (``python -m console serve``): a Sanic app with server-rendered
Jinja2 pages in Chinese and English.  It reads the Rasa tracker store (already
redacted by ``bot.tracker_store``) through the event-source seam in
``console.events`` and keeps everything of its own (staff, sessions, the
conversation summary table, annotations, the audit log) in its own database.
It imports nothing of ours but ``common``.
"""

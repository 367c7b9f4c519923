"""The contribution backend: insured persons, enrolments, contributions, arrears.

A Sanic service over SQLAlchemy (SQLite by default, PostgreSQL through
``DATABASE_URL``).  Importing this package is cheap and side-effect free: the
app is built by ``backend.app.create_app`` and run by
``python -m backend serve``; the Rasa actions only import
``actions.backend_client``.
"""

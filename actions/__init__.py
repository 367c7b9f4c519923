"""Shebao Assistant custom actions (rasa-sdk action server), one module per topic."""

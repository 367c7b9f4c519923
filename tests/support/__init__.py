"""Test helpers: starting the real assistant, fakes of outside services."""

"""Tests of the benchmark and load tools (bench/)."""

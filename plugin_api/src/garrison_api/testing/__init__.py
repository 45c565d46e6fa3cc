"""Test kit for plugin authors."""

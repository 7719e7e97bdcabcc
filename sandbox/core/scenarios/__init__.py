"""YAML scenarios: scripted request sequences with expectations, replayed against a sandbox."""

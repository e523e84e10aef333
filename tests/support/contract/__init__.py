"""Support files for the API-contract tests (run by the tools in .venv-contract)."""

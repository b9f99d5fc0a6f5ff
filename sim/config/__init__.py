"""Pydantic models of the scenario file (the contract users write against)."""

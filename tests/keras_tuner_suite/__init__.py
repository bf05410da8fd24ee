"""KerasTuner's own tuner tests, ported (see _swap.py and conftest.py)."""

"""backends/python."""

"""backends/sql."""

"""The embedded DuckDB engine: opening and locking down connections, running queries so
that Ctrl-C and timeouts cancel them, comparing a schema with the real tables, and exports
through DuckDB's own writer. :class:`segql.engine.Database` ties these together."""

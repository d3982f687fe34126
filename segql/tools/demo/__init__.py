"""The bundled example shop: deterministic data, schema and catalog (see `segql demo`)."""

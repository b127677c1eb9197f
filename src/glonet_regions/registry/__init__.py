"""The plugin registry: hookspecs, the plugin manager and a typed facade."""

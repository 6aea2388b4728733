"""The SQLite backend: the default store, one ordinary file."""

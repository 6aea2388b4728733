"""The PostgreSQL backend: a server store that a team shares."""

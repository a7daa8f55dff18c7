"""refresh/: mid-session 401, rotation, refresh races (C08, C12-C20, C24)."""

"""flows/: multi-tab interactive flows (C01-C04, C06, C07): registration and flow single-flight, PKCE
verifiers bound to their state, stale/forged/duplicate callbacks, a denial in one tab, flow storms."""

"""replicas/: N client processes on one shared store (sqlite, redis): C01, C05, C09, C10, C11."""

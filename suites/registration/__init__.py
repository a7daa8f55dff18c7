"""registration/: dynamic registration, pre-registered clients, re-registration (C21, C22, REG-1/2/3, RT-1, RED-1)."""

"""Not yet implemented."""
from __future__ import annotations


class HealthConnect:
    name = "health_connect"
    label = "health_connect"

    def detect(self, src) -> bool:
        return False

    def read(self, src, ctx):
        return iter(())

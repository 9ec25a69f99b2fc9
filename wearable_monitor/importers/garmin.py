"""Not yet implemented."""
from __future__ import annotations


class GarminFit:
    name = "garmin"
    label = "garmin"

    def detect(self, src) -> bool:
        return False

    def read(self, src, ctx):
        return iter(())

"""Not yet implemented."""
from __future__ import annotations


class Oura:
    name = "oura"
    label = "oura"

    def detect(self, src) -> bool:
        return False

    def read(self, src, ctx):
        return iter(())

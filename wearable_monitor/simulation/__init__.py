"""Simulated people: the main simulator, the held-out second simulator, labelled datasets."""

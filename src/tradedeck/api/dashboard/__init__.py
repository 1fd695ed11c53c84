"""The web dashboard's page, script and style sheet, kept as package data.

A package of its own (not a plain directory) so ``importlib.resources`` finds the files
in a wheel or a zip as well as in a checkout; ``tradedeck.api.routers.dashboard`` serves
them.
"""

"""One router per area, as in FastAPI's "bigger applications" layout."""

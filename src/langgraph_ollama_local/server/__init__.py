"""The HTTP service: the tutorial's REST/WebSocket endpoints and the approval API."""

"""The Jupyter Server face of jupyter-pyrunner: REST API and WebSocket log streaming."""

"""The HTTP/SSE server, the OpenAI-compatible route and the page: a thin shell over Assistant."""

"""WebSocket API: connect/disconnect/message handlers and delivery through the @connections API."""

"""The tickets service: micro-wishes now; resident requests and disputes later."""

"""The REST translator: HTTP/JSON in front of the gRPC services, driven by their google.api.http rules."""

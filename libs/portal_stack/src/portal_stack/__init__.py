"""Starts the whole portal in the foreground: the gRPC services, then the Envoy gateway."""

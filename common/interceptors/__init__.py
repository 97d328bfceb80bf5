"""Server interceptors; `common.server.ServiceHost` runs them in the order a service lists them."""

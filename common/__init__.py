"""The shared library of every Farebox service: config, logs, errors, servers, clients, stores."""

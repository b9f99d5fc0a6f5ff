"""patternsim: compare how microservices share data, by discrete-event simulation."""

__version__ = "0.1.0"

"""dmp-gateway: a FHIR STU3 gateway that delivers documents to the French DMP."""

__version__ = "0.1.0"

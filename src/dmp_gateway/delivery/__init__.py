"""The delivery use case: CommunicationRequest → TD0.2 → CDA → ITI-41 → Communication.

No HTTP, SOAP, SQL or FHIR here: `service.py` talks to ports (`ports.py`); `store/`, `dmp/` and the
FHIR-side adapters implement them, and `bootstrap.py` wires the real ones.
"""

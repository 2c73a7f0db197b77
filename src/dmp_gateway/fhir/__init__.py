"""FHIR STU3 REST surface: one module per FHIR concern; `app.create_app` assembles them."""

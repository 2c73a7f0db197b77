"""PostgreSQL adapters: the embedded server, migrations, versioned FHIR resources, binaries."""

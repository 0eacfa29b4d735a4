"""Demo and load-test data: a generated St. Petersburg school system, published to the registry
topic and driven through the class journal's HTTP API as the schools' staff and teachers would."""

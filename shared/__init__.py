"""Everything the triggers call: config, database, redis, security, errors, logging, models, schemas, services."""

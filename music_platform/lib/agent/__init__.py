"""The music agent: a model loop with tools over the warehouse and the recommender, a rule
path without a model, the SQL guard, tracing, HTTP and MCP fronts."""

"""The catalogue assistant: typed tools over the marts and the recommender, the rule router,
the model loop that calls them, and the MCP server that exposes them."""

"""The data sets (verified, decoded, cached), the feature classifier whose embedding is the metric space, and image grids."""

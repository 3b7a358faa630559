"""The data sets (verified, decoded, cached), the feature spaces whose embeddings are the metric
spaces (the classifier's, primary; an autoencoder's, the second), and image grids."""

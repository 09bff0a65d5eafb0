"""Building blocks around the recurrent layers: embeddings, a convolutional front-end, sequence pooling."""

"""Building blocks around the recurrent layers: embeddings (pretrained vectors), a character CNN, a
convolutional front-end, sequence pooling, attention and a CRF."""

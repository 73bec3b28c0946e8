"""The image modality: backbones, weights, augmentation policies, the VAE and the image trainable."""

"""The GANs: networks stacked over seeds, training, and what a trained run offers the samplers (the refit ratio, sampling with it)."""

"""Inference: the Session every front end calls, and latent-space tools."""

"""Evaluation metrics: IS/KID/FAD on embeddings, reconstruction (MSE, SNR, LSD), embedding models."""
